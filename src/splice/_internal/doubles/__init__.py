"""Doubles of third-party APIs: the HTTP mock behind the `mock` service kind.

How a request flows, and where each part lives:

    http11      asyncio protocol: parses requests, writes replies in order (keep-alive,
                pipelining, chunked bodies), and the faults that break a connection
    app         dispatch: admin API, then stubs, then the cassette, else a near-miss 404
    stubs       the store: priorities, the tie rule, sequences, scenario states
    matching    a stub's request spec compiled into checks (checks, body_match, paths,
                jsonpaths); `differences` explains a miss
    responses   a response compiled once: static bytes, or a template; delays, faults
    journal     the bounded ring buffer of received requests
    nearmiss    ranking stubs (or received requests) by how near they are
    admin       the admin API under /__splice/; client is its Python client
    recorder    record/replay through a proxy; scrub and cassette write what it keeps
    model       the stub schema (pydantic), shared by files, the admin API and suites
    files       stub files and WireMock mappings (wiremock) read with located errors
    server      `python -m splice._internal.doubles.server --config FILE`: the process
    grpc_server the gRPC double (the `grpc-mock` kind), in its own process too

The mock's other rooms, one per floor that sees it:

    splice/services/kinds/mock.py       the `mock` kind: settings, starting the server,
                                        isolation (`reset`), stubs loaded and checked
    splice/services/kinds/grpc_mock.py  the `grpc-mock` kind
    splice/executors/mock.py            the `mock` step: a mock's stubs changed and what
                                        it received verified, through `client`
    splice/cli/mock_command.py          `splice mock`: a double outside a run (serve,
                                        cassettes into stubs, WireMock mappings imported)
"""
