"""The LA dashboard over HTTP: who may see it, filters with odd input, CSV per chart."""
import pytest


@pytest.mark.parametrize("role", ["maintainer", "la_officer", "admin"])
def test_la_roles_see_every_chart_with_its_table(client, auth, role):
    auth.login(role)
    response = client.get("/dashboard?from=2026-01&to=2026-12")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for title in ("Children in AP by month", "Placements by type of provision", "Placements by district",
                  "against the 100% target"):
        assert title in html
    assert html.count('role="img"') == 4 and html.count("<table") == 4 and "2026-12" in html


@pytest.mark.parametrize("query, field", [("from=garbage", "Enter a month like 2026-09"),
                                          ("from=2026-12&to=2026-01", "must not be before"),
                                          ("district=%27%3B+DROP+TABLE", "Choose a district"),
                                          ("provision_type=" + "x" * 5000, "Choose a type of provision"),
                                          ("from=2001-01&to=2026-12", "at most 36 months")])
def test_odd_filters_answer_422_with_a_message_never_500(client, auth, query, field):
    auth.login("la_officer")
    response = client.get(f"/dashboard?{query}", headers={"HX-Request": "true"})
    assert response.status_code == 422 and field in response.get_data(as_text=True)


def test_each_chart_downloads_as_csv(client, auth):
    auth.login("maintainer")
    response = client.get("/dashboard/children-by-month.csv?from=2026-01&to=2026-03")
    lines = response.get_data(as_text=True).splitlines()
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert lines[0] == "month,children in AP" and [line.split(",")[0] for line in lines[1:]] == ["2026-01", "2026-02",
                                                                                                "2026-03"]
    assert client.get("/dashboard/unknown.csv").status_code == 404


def test_schools_and_auditors_are_refused(client, auth):
    for role in ("school", "auditor", "qoe_teacher"):
        auth.login(role)
        assert client.get("/dashboard").status_code == 403
        auth.logout()
