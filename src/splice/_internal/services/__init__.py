"""Services: how each kind of dependency is started (locally, in Docker or as an external
URL), made ready, checked, isolated and stopped; the kinds are plugins (`registry`)."""
