def test_home_page_answers_in_vietnamese(client):
    response = client.get("/")
    assert response.status_code == 200
    assert '<html lang="vi">' in response.get_data(as_text=True)


def test_login_and_alliance_queue(client, auth, alliance_user, pending_cooperative_owner):
    assert auth.login(alliance_user.email).status_code == 302
    page = client.get("/alliance/organisations").get_data(as_text=True)
    assert pending_cooperative_owner.organisation.legal_name in page
