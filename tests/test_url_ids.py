"""An id in a URL beyond the database's integer range matches no route (404, or 405 from Werkzeug's matcher),
never a 500."""
import re

import pytest
from werkzeug.routing import IntegerConverter, UUIDConverter

TOO_BIG = 2**31  # PostgreSQL integer: up to 2**31 - 1
OTHER = {UUIDConverter: "00000000-0000-0000-0000-000000000001", IntegerConverter: "1"}


def _int_routes(app):
    for rule in app.url_map.iter_rules():
        ints = [name for name, converter in rule._converters.items() if isinstance(converter, IntegerConverter)]
        if ints:
            yield rule, ints


def test_every_integer_route_argument_is_capped_at_the_database_range(app):
    routes = list(_int_routes(app))
    assert len(routes) > 20  # providers, visits, placements, users, templates, ...
    for rule, _ in routes:
        assert all(c.max == 2**31 - 1 for c in rule._converters.values() if hasattr(c, "max")), rule.rule


@pytest.mark.parametrize("role", [None, "admin", "maintainer", "school"])
def test_an_id_beyond_the_range_never_reaches_a_view(app, client, auth, role):
    if role:
        auth.login(role)
    for rule, ints in _int_routes(app):
        url = rule.rule
        for name, converter in rule._converters.items():
            value = str(TOO_BIG) if name in ints else next((v for k, v in OTHER.items() if isinstance(converter, k)), "x")
            url = re.sub(r"<(?:[a-z]+:)?%s>" % name, value, url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            # Werkzeug's matcher answers 405 when a route of another method has the same shape: either way
            # the request never reaches a view or the database.
            assert response.status_code in (404, 405), (method, url, response.status_code)
