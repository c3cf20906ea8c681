"""The http executor against a real server on 127.0.0.1."""

from __future__ import annotations

import pytest

from splice._internal.model.results import Status


def steps_of(run):  # type: ignore[no-untyped-def]
    return [s for tc in run.testcases() for a in tc.attempts for s in a.steps]


def test_methods_params_headers_and_json_body(server, write, run_suite) -> None:
    """Every method reaches the server with its query, headers and JSON body."""
    path = write(
        "m.splice.yaml",
        """
        name: methods
        testcases:
          - name: each method
            steps:
              - http: {post: "{{ base }}/echo", params: {page: 2, on: true}, headers: {X-Trace: abc},
                       json: {qty: 2, sku: A}}
                expect:
                  status: 200
                  json: {method: POST, query: {page: "2", on: "true"},
                         headers: {x-trace: abc, content-type: application/json}, json: {qty: 2}}
              - http: {put: "{{ base }}/echo", body: "raw text"}
                expect: {json: {method: PUT, body: raw text}}
              - http: {patch: "{{ base }}/echo"}
                expect: {json: {method: PATCH}}
              - http: {delete: "{{ base }}/echo"}
                expect: {json: {method: DELETE}}
              - http: {method: options, url: "{{ base }}/echo"}
                expect: {json: {method: OPTIONS}}
              - http: {head: "{{ base }}/echo"}
                expect: {status: 200, text: ""}
              - http: "GET {{ base }}/echo"
                expect: {json: {method: GET}}
    """,
    )
    run = run_suite(path, base=server.url)
    assert run.status == Status.PASSED, steps_of(run)


def test_form_and_multipart_bodies(server, write, run_suite, tmp_path) -> None:
    """Form fields are url-encoded; multipart sends fields and files from the suite's folder."""
    (tmp_path / "note.txt").write_text("file content here")
    path = write(
        "f.splice.yaml",
        """
        name: bodies
        testcases:
          - name: form and multipart
            steps:
              - http: {post: "{{ base }}/echo", form: {a: "1", b: two}}
                expect: {json: {body: "a=1&b=two",
                                headers: {content-type: application/x-www-form-urlencoded}}}
              - http:
                  post: "{{ base }}/echo"
                  multipart:
                    field: value
                    upload: {file: note.txt, content_type: text/plain}
                expect:
                  json:
                    headers: {content-type: {$startswith: multipart/form-data}}
                    body: {$contains: file content here}
    """,
    )
    run = run_suite(path, base=server.url)
    assert run.status == Status.PASSED, steps_of(run)


def test_auth_cookies_and_redirects(server, write, run_suite) -> None:
    """Basic and bearer auth are sent; cookies persist within a testcase only; redirects toggle."""
    path = write(
        "a.splice.yaml",
        """
        name: auth
        testcases:
          - name: basic and bearer
            steps:
              - http: {get: "{{ base }}/basic", auth: {user: alice, password: s3cret}}
                expect: {status: 200, json: {authenticated: true}}
              - http: {get: "{{ base }}/basic", auth: {user: alice, password: wrong}}
                expect: {status: 401}
              - http: {get: "{{ base }}/echo", auth: {bearer: tok123}}
                expect: {json: {headers: {authorization: Bearer tok123}}}
          - name: cookies kept in a testcase
            steps:
              - http: {get: "{{ base }}/set-cookie"}
                expect: {cookies: {session: s3ss10n}}
              - http: {get: "{{ base }}/cookies"}
                expect: {json: {cookie: session=s3ss10n}}
          - name: a new testcase starts without cookies
            steps:
              - http: {get: "{{ base }}/cookies"}
                expect: {json: {cookie: null}}
          - name: redirects
            steps:
              - http: {get: "{{ base }}/redirect"}
                expect: {status: 200, url: {$endswith: /echo}}
              - http: {get: "{{ base }}/redirect", follow_redirects: false}
                expect: {status: 302, headers: {Location: /echo}}
    """,
    )
    run = run_suite(path, base=server.url)
    assert run.status == Status.PASSED, steps_of(run)


def test_captures_flow_to_later_steps_and_testcases(server, write, run_suite) -> None:
    """Expression, JSONPath, regex and header captures feed later steps and testcases."""
    path = write(
        "c.splice.yaml",
        """
        name: captures
        testcases:
          - name: capture
            steps:
              - http: {get: "{{ base }}/items"}
                capture:
                  total: json.total
                  names: {jsonpath: "$.items[*].name", all: true}
                  second: {jsonpath: "$.items[1].id"}
              - http: {get: "{{ base }}/html"}
                capture: {page_id: {regex: "id=(\\\\d+)"}}
              - http: {get: "{{ base }}/echo"}
                capture: {request_id: {header: X-Request-Id}}
          - name: use captures
            steps:
              - http: {post: "{{ base }}/echo",
                       json: {total: "{{ total }}", names: "{{ names }}", second: "{{ second }}",
                              page: "{{ page_id }}", rid: "{{ request_id }}"}}
                expect:
                  json: {json: {total: 3, names: [a, b, c], second: 2, page: "77", rid: req-42}}
    """,
    )
    run = run_suite(path, base=server.url)
    assert run.status == Status.PASSED, steps_of(run)
    assert run.suites[0].testcases[0].attempts[0].steps[0].captures["names"] == ["a", "b", "c"]


def test_retry_until_eventually_holds(server, write, run_suite) -> None:
    """`retry.until` polls until the condition holds and records how many polls it took."""
    path = write(
        "r.splice.yaml",
        """
        name: retry
        testcases:
          - name: eventually ready
            steps:
              - http: {get: "{{ base }}/counter?after=3"}
                retry: {until: "result.json.ready", timeout: 5s, interval: 10ms}
                expect: {json: {ready: true}}
    """,
    )
    server.hits.pop("/counter", None)
    run = run_suite(path, base=server.url)
    step = run.suites[0].testcases[0].attempts[0].steps[0]
    assert run.status == Status.PASSED
    assert step.polls == 3


def test_retry_gives_up_with_the_last_failure(server, write, run_suite) -> None:
    """A retry that never succeeds fails with a give-up message and the last expectation."""
    path = write(
        "r.splice.yaml",
        """
        name: retry
        testcases:
          - name: never
            steps:
              - http: {get: "{{ base }}/status?code=503"}
                retry: {timeout: 300ms, interval: 50ms}
                expect: {status: 200}
    """,
    )
    run = run_suite(path, base=server.url)
    step = run.suites[0].testcases[0].attempts[0].steps[0]
    assert step.status == Status.FAILED
    assert step.polls >= 3
    assert step.failures[0].kind == "retry"
    assert "expected 200, got 503" in step.failures[1].message
    assert step.failures[0].hint == "raise retry.timeout if the system needs longer to settle"


def test_retry_out_of_attempts_names_attempts(server, write, run_suite) -> None:
    """A retry that runs out of `attempts` (not time) says so and hints at raising attempts."""
    path = write(
        "a.splice.yaml",
        """
        name: retry
        testcases:
          - name: never
            steps:
              - http: {get: "{{ base }}/status?code=503"}
                retry: {attempts: 3, interval: 10ms}
                expect: {status: 200}
    """,
    )
    run = run_suite(path, base=server.url)
    step = run.suites[0].testcases[0].attempts[0].steps[0]
    assert step.polls == 3
    assert "gave up after 3 tries (retry.attempts: 3)" in step.failures[0].message
    assert step.failures[0].hint == "raise retry.attempts if the system needs more tries"


def test_timeout_and_connection_refused_are_step_errors(server, write, run_suite) -> None:
    """A slow reply past the step timeout and a closed port are errors naming the cause."""
    path = write(
        "t.splice.yaml",
        """
        name: errors
        testcases:
          - name: slow
            steps:
              - http: {get: "{{ base }}/slow?s=1"}
                timeout: 100ms
          - name: refused
            steps:
              - http: {get: "http://127.0.0.1:9/nothing"}
    """,
    )
    run = run_suite(path, base=server.url)
    slow, refused = run.suites[0].testcases
    assert slow.status == Status.ERROR
    assert "timed out after 0.1s" in slow.attempts[0].steps[0].failures[0].message
    assert refused.status == Status.ERROR
    assert "connection refused" in refused.attempts[0].steps[0].failures[0].message


def test_params_are_added_to_the_urls_own_query(server, write, run_suite) -> None:
    """`params:` adds to the query the URL already has; a repeated key keeps both values."""
    path = write(
        "q.splice.yaml",
        """
        name: query
        testcases:
          - name: both
            steps:
              - http: {get: "{{ base }}/echo?x=1&y=0", params: {y: 2, z: true}}
                expect: {json: {query: {x: "1", y: ["0", "2"], z: "true"}}}
    """,
    )
    run = run_suite(path, base=server.url)
    assert run.status == Status.PASSED, steps_of(run)


def test_timeout_bounds_the_whole_exchange(server, write, run_suite) -> None:
    """A body dripped over a second fails a 300 ms timeout although no single read waits
    that long: `timeout` is a deadline for connecting, sending and the whole response."""
    path = write(
        "d.splice.yaml",
        """
        name: drip
        testcases:
          - name: dripping
            steps:
              - http: {get: "{{ base }}/drip?n=10&every=0.1"}
                timeout: 300ms
    """,
    )
    run = run_suite(path, base=server.url)
    step = run.suites[0].testcases[0].attempts[0].steps[0]
    assert step.status == Status.ERROR, step
    assert "timed out after 0.3s" in step.failures[0].message


def test_json_expectation_on_a_body_that_is_not_json_says_so(server, write, run_suite) -> None:
    """`json:` against an HTML body fails with a hint that the body was not JSON."""
    path = write(
        "h.splice.yaml",
        """
        name: html
        testcases:
          - name: html
            steps:
              - http: {get: "{{ base }}/html"}
                expect: {json: {id: 77}}
    """,
    )
    run = run_suite(path, base=server.url)
    failure = run.suites[0].testcases[0].attempts[0].steps[0].failures[0]
    assert failure.message == "expected an object, got null"
    assert failure.hint == (
        "json is null because the body is not JSON: it starts with '<html><body>Hello <b>world</b> id=77</body></html>'"
    )


@pytest.mark.parametrize("verify", [False, True])
def test_tls_verify_can_be_turned_off(write, run_suite, tls_server, verify) -> None:
    """With `verify: false` a self-signed certificate is accepted; by default it is refused."""
    path = write(
        "tls.splice.yaml",
        f"""
        name: tls
        testcases:
          - name: self-signed
            steps:
              - http: {{get: "{{{{ base }}}}/echo", verify: {str(verify).lower()}}}
                expect: {{status: 200}}
    """,
    )
    run = run_suite(path, base=tls_server)
    assert run.status == (Status.ERROR if verify else Status.PASSED)


def test_binary_bodies_digest_auth_and_phase_timeouts(server, write, run_suite) -> None:
    """Binary responses are checked by size and digest; request bodies come from a file
    or base64; Digest auth answers the server's challenge; a slow drip passes a read
    timeout but not the deadline of the whole exchange, and each timeout names itself."""
    import hashlib

    blob = bytes(range(256)) * 4
    (write("data/blob.bin", "").parent / "blob.bin").write_bytes(blob)
    path = write(
        "binary.splice.yaml",
        f"""
        name: binary
        testcases:
          - name: a binary response
            steps:
              - http: {{get: "{{{{ base }}}}/bytes?n=1024"}}
                expect:
                  bytes: 1024
                  sha256: {hashlib.sha256(blob).hexdigest()}
                  md5: {hashlib.md5(blob).hexdigest()}
          - name: bodies from a file and from base64
            steps:
              - http:
                  post: "{{{{ base }}}}/digest-of-body"
                  body: {{file: data/blob.bin}}
                  headers: {{Content-Type: application/octet-stream}}
                expect: {{json: {{bytes: 1024, sha256: {hashlib.sha256(blob).hexdigest()}}}}}
              - http:
                  post: "{{{{ base }}}}/digest-of-body"
                  body: {{base64: AAEC/w==}}
                expect: {{json: {{bytes: 4, sha256: {hashlib.sha256(bytes([0, 1, 2, 255])).hexdigest()}}}}}
          - name: digest auth
            steps:
              - http:
                  get: "{{{{ base }}}}/digest"
                  auth: {{user: alice, password: s3cret, scheme: digest}}
                expect: {{status: 200, json: {{scheme: digest}}}}
              - http:
                  get: "{{{{ base }}}}/digest"
                  auth: {{user: alice, password: wrong, scheme: digest}}
                expect: {{status: 401}}
          - name: a drip keeps each read short
            steps:
              - http: {{get: "{{{{ base }}}}/drip?n=5&every=0.05", read_timeout: 2s}}
                expect: {{text: "xxxxx"}}
          - name: the deadline covers the whole exchange
            steps:
              - http: {{get: "{{{{ base }}}}/drip?n=40&every=0.05", read_timeout: 1s}}
                timeout: 300ms
          - name: a read timeout names itself
            steps:
              - http: {{get: "{{{{ base }}}}/slow?s=2", read_timeout: 100ms}}
    """,
    )
    run = run_suite(path, base=server.url)
    cases = {tc.name: tc for tc in run.suites[0].testcases}
    for name in ("a binary response", "bodies from a file and from base64", "digest auth"):
        assert cases[name].status == Status.PASSED, cases[name].attempts[0].steps
    assert cases["a drip keeps each read short"].status == Status.PASSED, (
        cases["a drip keeps each read short"].attempts[0].steps
    )

    def message(name: str) -> str:
        return cases[name].attempts[0].steps[0].failures[0].message

    assert message("the deadline covers the whole exchange").endswith("timed out after 0.3s")
    assert message("a read timeout names itself").endswith(
        "nothing received for 0.1s (read_timeout)"
    )


def test_a_body_file_that_is_missing_is_a_step_error(server, write, run_suite) -> None:
    """The file of `body: {file: ...}` is read when the step runs; a missing one says so."""
    path = write(
        "missing.splice.yaml",
        """
        name: missing
        testcases:
          - name: no file
            steps:
              - http: {post: "{{ base }}/echo", body: {file: nowhere.bin}}
    """,
    )
    run = run_suite(path, base=server.url)
    failure = run.suites[0].testcases[0].attempts[0].steps[0].failures[0]
    assert "cannot read the body file" in failure.message and "nowhere.bin" in failure.message
    assert failure.hint == "the path is relative to the suite file"


def test_json_schema_and_numeric_string_expectations(server, write, run_suite) -> None:
    """`$schema` checks a body against a JSON Schema, inline or from a file, and names the
    paths at fault; `$number` compares a numeric string as a number."""
    write(
        "schemas/order.json",
        """
        {"$schema": "https://json-schema.org/draft/2020-12/schema",
         "type": "object", "required": ["id", "status"],
         "properties": {"id": {"type": "integer"}, "status": {"enum": ["pending", "paid"]}}}
        """,
    )
    path = write(
        "schema.splice.yaml",
        """
        name: schema
        testcases:
          - name: valid
            steps:
              - http: {post: "{{ base }}/echo", json: {id: 7, status: paid}}
                expect: {json: {json: {$schema: schemas/order.json}}}
              - http: {post: "{{ base }}/echo", json: {price: "12.50"}}
                expect: {json: {json: {price: {$number: 12.5}}}}
          - name: invalid
            steps:
              - http: {post: "{{ base }}/echo", json: {id: "7", status: lost}}
                expect:
                  json:
                    json: {$schema: {type: object, properties: {id: {type: integer}}, required: [id, total]}}
    """,
    )
    run = run_suite(path, base=server.url)
    valid, invalid = run.suites[0].testcases
    assert valid.status == Status.PASSED, valid.attempts[0].steps[0].failures
    messages = {(f.path, f.message) for f in invalid.attempts[0].steps[0].failures}
    assert ("json.json.id", 'schema: "7" is not of type "integer"') in messages
    assert any(
        "'total' is a required property" in m or '"total" is a required property' in m
        for _, m in messages
    ), messages


def test_cookie_attributes_and_which_cookies_a_request_sends(server, write, run_suite) -> None:
    """`set_cookies` shows each cookie's attributes; `send_cookies` sends all, none or the
    named ones of the testcase's cookies, which stay kept for later steps."""
    path = write(
        "cookies.splice.yaml",
        """
        name: cookies
        testcases:
          - name: attributes and control
            steps:
              - http: {get: "{{ base }}/set-cookies"}
                expect:
                  set_cookies:
                    session: {value: abc, max_age: 3600, httponly: true, secure: true, samesite: Strict, path: /}
                    theme: {value: dark, expires: {$regex: "2031"}, httponly: false, max_age: null}
              - http: {get: "{{ base }}/set-cookie"}
              - http: {get: "{{ base }}/cookies", send_cookies: false}
                expect: {json: {cookie: null}}
              - http: {get: "{{ base }}/cookies", send_cookies: [theme], cookies: {extra: "1"}}
                expect: {json: {cookie: {$regex: "^(theme=dark; extra=1|extra=1; theme=dark)$"}}}
              - http: {get: "{{ base }}/cookies"}
                expect: {json: {cookie: {$regex: "session=s3ss10n"}}}
    """,
    )
    run = run_suite(path, base=server.url)
    assert run.status == Status.PASSED, steps_of(run)


@pytest.fixture
def mtls_server(tmp_path):  # type: ignore[no-untyped-def]
    """The echo server behind TLS that requires a client certificate from its CA; the CA
    and a client certificate (key in the same file) are written to tmp_path/tls."""
    import ssl

    import trustme

    from tests.support.echo_server import EchoServer

    ca = trustme.CA()
    folder = tmp_path / "tls"
    folder.mkdir()
    ca.cert_pem.write_to_path(folder / "ca.pem")
    ca.issue_cert("client.example").private_key_and_cert_chain_pem.write_to_path(
        folder / "client.pem"
    )
    with EchoServer() as srv:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
        srv.socket = context.wrap_socket(srv.socket, server_side=True)
        yield f"https://127.0.0.1:{srv.server_address[1]}"


def test_client_certificates_for_mutual_tls(write, run_suite, mtls_server) -> None:
    """With `ca:` and `cert:` the server accepts the client; without the certificate the
    handshake fails; a certificate file that is missing is a step error with a hint."""
    path = write(
        "mtls.splice.yaml",
        """
        name: mtls
        testcases:
          - name: with a client certificate
            steps:
              - http: {get: "{{ base }}/echo", ca: tls/ca.pem, cert: {file: tls/client.pem}}
                expect: {status: 200}
          - name: without one
            steps:
              - http: {get: "{{ base }}/echo", ca: tls/ca.pem}
          - name: a missing certificate file
            steps:
              - http: {get: "{{ base }}/echo", ca: tls/ca.pem, cert: {file: tls/nope.pem}}
    """,
    )
    run = run_suite(path, base=mtls_server)
    good, without, missing = run.suites[0].testcases
    assert good.status == Status.PASSED, steps_of(run)
    assert without.status == Status.ERROR
    failure = missing.attempts[0].steps[0].failures[0]
    assert failure.message.startswith("cannot load the client certificate")
    assert "nope.pem" in failure.message and "`cert: {file, key}`" in (failure.hint or "")


def test_oauth2_client_credentials_tokens_are_shared_and_renewed(server, write, run_suite) -> None:
    """One token serves every testcase until shortly before it expires, then a new one is
    fetched; a refused client is a step error naming the endpoint's answer."""
    oauth = '{token_url: "{{ base }}/oauth/token", client_id: shop, client_secret: "{{ secret }}"}'
    path = write(
        "oauth.splice.yaml",
        f"""
        name: oauth
        secrets: [secret]
        vars: {{secret: s3cret}}
        testcases:
          - name: first
            steps:
              - http: {{get: "{{{{ base }}}}/oauth/me", auth: {{oauth2: {oauth}}}}}
                expect: {{status: 200}}
                capture: {{first_token: json.token}}
          - name: second shares it
            steps:
              - http: {{get: "{{{{ base }}}}/oauth/me", auth: {{oauth2: {oauth}}}}}
                expect: {{json: {{token: "{{{{ first_token }}}}"}}}}
          - name: renewed before it expires
            steps:
              - exec: "sleep 0.8"
              - http: {{get: "{{{{ base }}}}/oauth/me", auth: {{oauth2: {oauth}}}}}
                expect: {{status: 200, json: {{token: {{$ne: "{{{{ first_token }}}}"}}}}}}
          - name: a refused client
            steps:
              - http:
                  get: "{{{{ base }}}}/oauth/me"
                  auth: {{oauth2: {{token_url: "{{{{ base }}}}/oauth/token", client_id: shop, client_secret: nope}}}}
    """,
    )
    run = run_suite(path, base=server.url)
    cases = run.suites[0].testcases
    assert [tc.status for tc in cases[:3]] == [Status.PASSED] * 3, steps_of(run)
    failure = cases[3].attempts[0].steps[0].failures[0]
    assert failure.message.endswith("answered 401 (invalid_client) instead of a token")
    assert "s3cret" not in str(run.to_dict())
    request = cases[0].attempts[0].steps[0].request
    assert request is not None and request["headers"] == {"Authorization": "Bearer ****"}


def test_xpath_and_css_on_html_and_xml_bodies(server, write, run_suite) -> None:
    """`$xpath` and `$css` select in an HTML page and an XML document from a real server,
    and a mismatch names the selector."""
    path = write(
        "markup.splice.yaml",
        """
        name: markup
        testcases:
          - name: html
            steps:
              - http: {get: "{{ base }}/html"}
                expect:
                  text:
                    $xpath: {"//b": [world], "string(//body)": {$contains: "id=77"}, "count(//b)": 1}
              - http: {get: "{{ base }}/html"}
                expect: {text: {$css: {body b: [world], i: []}}}
          - name: xml
            steps:
              - http: {post: "{{ base }}/echo", body: "<order id='7'><line sku='A'/><line sku='B'/></order>"}
                expect: {json: {body: {$xpath: {"/order/@id": ["7"], "//line/@sku": [A, B]}}}}
          - name: a mismatch names the selector
            steps:
              - http: {get: "{{ base }}/html"}
                expect: {text: {$css: {b: [moon]}}}
    """,
    )
    run = run_suite(path, base=server.url)
    html, xml, wrong = run.suites[0].testcases
    assert html.status == Status.PASSED, steps_of(run)
    assert xml.status == Status.PASSED, steps_of(run)
    failure = wrong.attempts[0].steps[0].failures[0]
    assert failure.path.startswith("text[CSS b]")
    assert "moon" in failure.message and "world" in failure.message
