"""The environment of a project, opened and closed the same way by every front end.

`open_environment` (in `splice._internal.environment.lifecycle`) starts the services or reuses a
running `splice up`, prepares the data, collects the secrets, keeps the logs and says
what is ready; `splice._internal.environment.up_state` is the state file `splice up` leaves for the
others to find.
"""
