"""The demo banner under the header: shown to demo organisations' people until they hide it in this browser."""
from marketplace.extensions import db

BANNER = 'class="demo-banner"'


def test_demo_users_see_the_banner_until_they_hide_it(client, auth, cooperative_owner):
    cooperative_owner.organisation.is_demo = True
    db.session.commit()
    auth.login(cooperative_owner.email)
    assert BANNER in client.get("/products").get_data(as_text=True)

    response = client.post("/demo-banner/hide", data={"next": "/products?category=beverages"})
    assert response.status_code == 302 and response.headers["Location"] == "/products?category=beverages"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("demo_banner=hidden;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=31536000" in cookie
    assert BANNER not in client.get("/products").get_data(as_text=True)
    auth.logout()
    auth.login(cooperative_owner.email)  # remembered by the browser, across sessions
    assert BANNER not in client.get("/").get_data(as_text=True)


def test_people_of_real_organisations_never_see_it(client, auth, cooperative_owner):
    auth.login(cooperative_owner.email)
    assert BANNER not in client.get("/").get_data(as_text=True)


def test_hiding_goes_back_only_to_a_page_of_this_site(client):
    response = client.post("/demo-banner/hide", data={"next": "https://evil.example/"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
