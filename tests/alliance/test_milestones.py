"""Milestones and obligations of an MoU: who may add, change, delete and mark them done, their evidence files
(validated like every upload, served only to the MoU's parties and the alliance), overdue from Vietnam's date,
repeating obligations, the emails and events of each step, and the follow-up section of the MoU's page."""
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from marketplace.agreements.models import AgreementEvent, AgreementEventKind, AgreementState
from marketplace.alliance import milestones
from marketplace.alliance.followup_models import Milestone, MilestoneRepeat, MilestoneStatus
from marketplace.catalog import images
from marketplace.catalog.services import today
from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from tests import factories


def details(**overrides):
    values = {"title": "Giao mẫu đầu tiên", "responsible": "seller",
              "due_on": (today() + timedelta(days=10)).isoformat(), "repeat": "", "details": "2 kg na Chi Lăng"}
    values.update(overrides)
    return milestones.MilestoneDetails.from_mapping(values)


def upload(data, filename="evidence.pdf", content_type="application/pdf"):
    return FileStorage(stream=io.BytesIO(data), filename=filename, content_type=content_type)


def events_of(agreement, kind):
    return db.session.scalars(sa.select(AgreementEvent).filter_by(agreement_id=agreement.id, kind=kind)).all()


def mail_to(outbox, email):
    return [message for message in outbox if email in message.to]


# ---------------------------------------------------------------- adding, changing, deleting

def test_either_party_and_the_alliance_add_milestones_and_the_others_are_told(party_mou, outbox):
    by_seller = milestones.add(party_mou.seller, party_mou.agreement.id, details())
    by_buyer = milestones.add(party_mou.buyer, party_mou.agreement.id, details(title="Thanh toán đợt 1", responsible="buyer"))
    by_staff = milestones.add(party_mou.alliance, party_mou.agreement.id, details(title="2 tấn mỗi tháng", repeat="monthly"))

    assert [m.id for m in milestones.list_for(party_mou.buyer, party_mou.agreement)] == [by_seller.id, by_buyer.id, by_staff.id]
    assert by_staff.repeat == MilestoneRepeat.MONTHLY
    assert by_seller.created_by_organisation_id == party_mou.seller.organisation_id
    assert len(events_of(party_mou.agreement, AgreementEventKind.MILESTONE_ADDED)) == 3
    # The seller's milestone is emailed to the buyer, the buyer's to the seller, the alliance's to both.
    assert len(mail_to(outbox, party_mou.buyer.email)) == 2
    assert len(mail_to(outbox, party_mou.seller.email)) == 2
    assert mail_to(outbox, party_mou.seller_member.email) == []  # a member without the signing right is not emailed
    assert "Giao mẫu đầu tiên" in mail_to(outbox, party_mou.buyer.email)[0].body


def test_a_third_party_sees_and_changes_nothing(party_mou):
    milestone = milestones.add(party_mou.seller, party_mou.agreement.id, details())
    for call in (lambda: milestones.add(party_mou.stranger, party_mou.agreement.id, details()),
                 lambda: milestones.list_for(party_mou.stranger, party_mou.agreement),
                 lambda: milestones.get(party_mou.stranger, party_mou.agreement.id, milestone.id),
                 lambda: milestones.update(party_mou.stranger, party_mou.agreement.id, milestone.id, details(title="X")),
                 lambda: milestones.delete(party_mou.stranger, party_mou.agreement.id, milestone.id),
                 lambda: milestones.mark_done(party_mou.stranger, party_mou.agreement.id, milestone.id, "xong")):
        with pytest.raises(NotFound):
            call()
    db.session.expire_all()
    assert db.session.get(Milestone, milestone.id).title == "Giao mẫu đầu tiên"


def test_a_milestone_of_another_mou_is_not_found_through_this_one(party_mou):
    other = factories.signed_mou(party_mou.buyer.organisation, party_mou.seller.organisation,
                                 {factories.product(party_mou.seller.organisation): 1000})
    milestone = milestones.add(party_mou.seller, other.id, details())
    with pytest.raises(NotFound):
        milestones.get(party_mou.seller, party_mou.agreement.id, milestone.id)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"title": "  \u200b "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"responsible": "witness"}, "responsible"),
    ({"responsible": ""}, "responsible"),
    ({"due_on": "15/07/2026"}, "due_on"),
    ({"due_on": ""}, "due_on"),
    ({"repeat": "daily"}, "repeat"),
    ({"details": "x" * 2001}, "details"),
])
def test_bad_input_is_refused_at_its_field(party_mou, overrides, field):
    with pytest.raises(ValidationFailed) as refused:
        milestones.add(party_mou.seller, party_mou.agreement.id, details(**overrides))
    assert field in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count(Milestone.id))) == 0


def test_milestones_are_added_to_signed_mous_only(party_mou):
    party_mou.agreement.state = AgreementState.NEGOTIATING
    db.session.commit()
    with pytest.raises(Conflict) as refused:
        milestones.add(party_mou.seller, party_mou.agreement.id, details())
    assert refused.value.code == "not_signed"


def test_only_the_organisation_that_added_it_or_the_alliance_changes_or_deletes_it(party_mou, outbox):
    demand = milestones.add(party_mou.buyer, party_mou.agreement.id, details(title="Giao 2 tấn", responsible="seller"))
    with pytest.raises(Forbidden):
        milestones.update(party_mou.seller, party_mou.agreement.id, demand.id, details(title="Giao 1 tấn"))
    with pytest.raises(Forbidden):
        milestones.delete(party_mou.seller, party_mou.agreement.id, demand.id)

    outbox.clear()
    milestones.update(party_mou.buyer, party_mou.agreement.id, demand.id, details(title="Giao 1,5 tấn"))
    assert db.session.get(Milestone, demand.id).title == "Giao 1,5 tấn"
    assert len(mail_to(outbox, party_mou.seller.email)) == 1
    milestones.update(party_mou.buyer, party_mou.agreement.id, demand.id, details(title="Giao 1,5 tấn"))  # nothing changes
    assert len(events_of(party_mou.agreement, AgreementEventKind.MILESTONE_CHANGED)) == 1

    milestones.delete(party_mou.alliance, party_mou.agreement.id, demand.id)
    assert db.session.get(Milestone, demand.id) is None
    [deleted] = events_of(party_mou.agreement, AgreementEventKind.MILESTONE_DELETED)
    assert "Giao 1,5 tấn" in deleted.note


# ---------------------------------------------------------------- done, with evidence

def test_the_responsible_side_marks_it_done_and_the_other_party_and_the_alliance_are_told(party_mou, outbox):
    milestone = milestones.add(party_mou.buyer, party_mou.agreement.id, details())  # the seller must deliver the sample
    with pytest.raises(Forbidden) as refused:
        milestones.mark_done(party_mou.buyer, party_mou.agreement.id, milestone.id, "Đã nhận mẫu")
    assert refused.value.code == "not_responsible"
    with pytest.raises(ValidationFailed) as refused:
        milestones.mark_done(party_mou.seller, party_mou.agreement.id, milestone.id, "  ")
    assert "note" in refused.value.errors

    outbox.clear()
    milestones.mark_done(party_mou.seller, party_mou.agreement.id, milestone.id, "Đã giao 2 kg mẫu ngày 10/07, phiếu giao số 12")
    db.session.expire_all()
    done = db.session.get(Milestone, milestone.id)
    assert done.is_done and done.done_by_id == party_mou.seller.id and done.status(today()) == MilestoneStatus.DONE
    assert done.evidence_note.startswith("Đã giao 2 kg")
    assert len(events_of(party_mou.agreement, AgreementEventKind.MILESTONE_DONE)) == 1
    assert len(mail_to(outbox, party_mou.buyer.email)) == 1
    assert len(mail_to(outbox, party_mou.alliance.email)) == 1
    assert mail_to(outbox, party_mou.seller.email) == []
    with pytest.raises(Conflict):
        milestones.mark_done(party_mou.seller, party_mou.agreement.id, milestone.id, "lần nữa")
    with pytest.raises(Conflict):
        milestones.update(party_mou.buyer, party_mou.agreement.id, milestone.id, details(title="Khác"))


def test_the_alliance_may_mark_any_milestone_done_and_both_parties_are_told(party_mou, outbox):
    milestone = milestones.add(party_mou.seller, party_mou.agreement.id, details(responsible="buyer"))
    outbox.clear()
    milestones.mark_done(party_mou.alliance, party_mou.agreement.id, milestone.id, "Cán bộ liên minh đã kiểm tra tại kho")
    assert len(mail_to(outbox, party_mou.buyer.email)) == 1 and len(mail_to(outbox, party_mou.seller.email)) == 1


def test_a_repeating_obligation_gets_its_next_occurrence_within_the_term(party_mou):
    due = today() + timedelta(days=3)
    monthly = milestones.add(party_mou.seller, party_mou.agreement.id, details(title="2 tấn mỗi tháng", repeat="monthly",
                                                                   due_on=due.isoformat()))
    milestones.mark_done(party_mou.seller, party_mou.agreement.id, monthly.id, "Tháng này đã giao đủ")
    following = db.session.scalars(sa.select(Milestone).where(Milestone.done_at.is_(None))).all()
    assert [(m.title, m.due_on, m.repeat) for m in following] == [
        ("2 tấn mỗi tháng", milestones.next_due_date(due, MilestoneRepeat.MONTHLY), MilestoneRepeat.MONTHLY)]

    last = milestones.add(party_mou.seller, party_mou.agreement.id, details(repeat="yearly",
                                                                due_on=party_mou.agreement.end_date.isoformat()))
    milestones.mark_done(party_mou.seller, party_mou.agreement.id, last.id, "Xong")
    assert db.session.scalar(sa.select(sa.func.count(Milestone.id)).where(Milestone.done_at.is_(None))) == 1


def test_next_due_dates_keep_to_the_end_of_short_months():
    from datetime import date

    assert milestones.next_due_date(date(2026, 1, 31), MilestoneRepeat.MONTHLY) == date(2026, 2, 28)
    assert milestones.next_due_date(date(2026, 11, 30), MilestoneRepeat.QUARTERLY) == date(2027, 2, 28)
    assert milestones.next_due_date(date(2026, 12, 29), MilestoneRepeat.WEEKLY) == date(2027, 1, 5)
    assert milestones.next_due_date(date(2028, 2, 29), MilestoneRepeat.YEARLY) == date(2029, 2, 28)


# ---------------------------------------------------------------- evidence files

def test_a_pdf_is_kept_as_it_is_and_a_photo_is_re_encoded(party_mou):
    pdf_milestone = milestones.add(party_mou.buyer, party_mou.agreement.id, details())
    photo_milestone = milestones.add(party_mou.buyer, party_mou.agreement.id, details(title="Ảnh lô hàng"))
    milestones.mark_done(party_mou.seller, party_mou.agreement.id, pdf_milestone.id, "", upload(factories.PDF))
    milestones.mark_done(party_mou.seller, party_mou.agreement.id, photo_milestone.id, "",
                         upload(factories.jpeg(), "IMG_0001.JPG", "image/jpeg"))
    db.session.expire_all()
    pdf_name = db.session.get(Milestone, pdf_milestone.id).evidence_file
    photo_name = db.session.get(Milestone, photo_milestone.id).evidence_file
    assert pdf_name.endswith(".pdf") and photo_name.endswith(".webp")
    assert images.evidence_path(pdf_name).read_bytes() == factories.PDF
    assert images.evidence_path(photo_name).read_bytes()[8:12] == b"WEBP"
    assert oct(images.evidence_path(pdf_name).stat().st_mode & 0o777) == oct(images.FILE_MODE)


@pytest.mark.parametrize(("data", "filename"), [
    (b"<html><script>alert(1)</script></html>", "bien-ban.pdf"),  # a web page disguised as a PDF
    (b"MZ\x90\x00" + b"\x00" * 200, "bien-ban.pdf"),  # a program disguised as a PDF
    (b"%PDF-1.7\n1 0 obj << >> endobj\n" + b"A" * 3000, "cut-short.pdf"),  # a PDF without its end
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "anh.png"),
    (factories.jpeg()[:200], "damaged.jpg"),
])
def test_files_that_are_not_pdf_jpeg_or_png_are_refused(party_mou, data, filename):
    milestone = milestones.add(party_mou.buyer, party_mou.agreement.id, details())
    with pytest.raises(ValidationFailed) as refused:
        milestones.mark_done(party_mou.seller, party_mou.agreement.id, milestone.id, "kèm tệp", upload(data, filename))
    assert "evidence" in refused.value.errors
    db.session.expire_all()
    assert not db.session.get(Milestone, milestone.id).is_done


def test_a_webp_is_refused_too(party_mou):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buffer, "WEBP")
    milestone = milestones.add(party_mou.buyer, party_mou.agreement.id, details())
    with pytest.raises(ValidationFailed):
        milestones.mark_done(party_mou.seller, party_mou.agreement.id, milestone.id, "", upload(buffer.getvalue(), "a.webp"))


def test_files_over_5_mb_and_images_over_the_pixel_cap_are_refused(party_mou, app):
    milestone = milestones.add(party_mou.buyer, party_mou.agreement.id, details())
    too_large = factories.PDF[:-7] + b"%" * (5 * 1024 * 1024) + b"\n%%EOF\n"
    with pytest.raises(ValidationFailed) as refused:
        milestones.mark_done(party_mou.seller, party_mou.agreement.id, milestone.id, "", upload(too_large))
    assert "5 MB" in str(refused.value.errors["evidence"])
    app.config["IMAGE_MAX_PIXELS"] = 1000
    with pytest.raises(ValidationFailed) as refused:
        milestones.mark_done(party_mou.seller, party_mou.agreement.id, milestone.id, "",
                             upload(factories.png((100, 100)), "a.png", "image/png"))
    assert "0.001 megapixel" in str(refused.value.errors["evidence"])


def test_evidence_is_served_to_the_parties_and_the_alliance_only(party_mou, app):
    milestone = milestones.add(party_mou.buyer, party_mou.agreement.id, details())
    milestones.mark_done(party_mou.seller, party_mou.agreement.id, milestone.id, "", upload(factories.PDF))
    url = f"/agreements/{party_mou.agreement.id}/milestones/{milestone.id}/evidence"
    for person, status in ((party_mou.buyer, 200), (party_mou.seller_member, 200), (party_mou.alliance, 200), (party_mou.stranger, 404)):
        client = app.test_client()
        client.post("/login", data={"email": person.email, "password": factories.PASSWORD})
        response = client.get(url)
        assert response.status_code == status, person.email
        if status == 200:
            assert response.mimetype == "application/pdf"
            assert response.headers["Content-Disposition"].startswith("attachment")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "no-store" in response.headers["Cache-Control"]
            assert response.data == factories.PDF
        response.close()
    assert app.test_client().get(url).status_code == 302  # anonymous: to the login page


# ---------------------------------------------------------------- overdue, from Vietnam's date

def test_overdue_is_computed_from_vietnams_date(party_mou):
    yesterday, on_time = today() - timedelta(days=1), today()
    late = milestones.add(party_mou.seller, party_mou.agreement.id, details(due_on=yesterday.isoformat()))
    due_today = milestones.add(party_mou.seller, party_mou.agreement.id, details(due_on=on_time.isoformat()))
    assert late.status(today()) == MilestoneStatus.OVERDUE and late.is_overdue(today())
    assert due_today.status(today()) == MilestoneStatus.OPEN
    assert due_today.status(on_time + timedelta(days=1)) == MilestoneStatus.OVERDUE


def test_overdue_milestones_counts_per_mou_in_sql(party_mou):
    other = factories.signed_mou(party_mou.buyer.organisation, party_mou.seller.organisation,
                                 {factories.product(party_mou.seller.organisation): 1000})
    quiet = factories.signed_mou(party_mou.buyer.organisation, party_mou.seller.organisation,
                                 {factories.product(party_mou.seller.organisation): 1000})
    past = (today() - timedelta(days=5)).isoformat()
    for agreement, count in ((party_mou.agreement, 2), (other, 1)):
        for _ in range(count):
            milestones.add(party_mou.seller, agreement.id, details(due_on=past))
    done = milestones.add(party_mou.seller, other.id, details(due_on=past))
    milestones.mark_done(party_mou.seller, other.id, done.id, "Xong")
    milestones.add(party_mou.seller, quiet.id, details())  # not due yet

    assert milestones.overdue_milestones([party_mou.agreement.id, other.id, quiet.id]) == {party_mou.agreement.id: 2, other.id: 1}
    assert milestones.overdue_milestones([]) == {}
    assert milestones.overdue_milestones([quiet.id], on=today() + timedelta(days=30)) == {quiet.id: 1}


# ---------------------------------------------------------------- the MoU's page

def test_the_page_shows_the_follow_up_to_both_parties_and_404_to_a_third_party(party_mou, app, client, auth):
    page = f"/agreements/{party_mou.agreement.id}"
    auth.login(party_mou.seller.email)
    html = client.get(page).get_data(as_text=True)
    assert 'id="follow-up"' in html and 'id="no-milestones"' in html and 'id="add-milestone"' in html

    response = client.post(f"{page}/milestones", data={
        "milestone-title": "Giao mẫu <b>đầu</b>", "milestone-responsible": "seller",
        "milestone-due_on": (today() - timedelta(days=2)).isoformat(), "milestone-repeat": "",
        "milestone-details": ""})
    assert response.status_code == 302 and response.headers["Location"].endswith("#follow-up")
    html = client.get(page).get_data(as_text=True)
    assert "Giao mẫu &lt;b&gt;đầu&lt;/b&gt;" in html and "status-overdue" in html

    response = client.post(f"{page}/milestones", data={"milestone-title": "", "milestone-responsible": "seller",
                                                       "milestone-due_on": ""})
    assert response.status_code == 422
    assert 'id="milestone-title-error"' in response.get_data(as_text=True)

    other = app.test_client()
    other.post("/login", data={"email": party_mou.stranger.email, "password": factories.PASSWORD})
    assert other.get(page).status_code == 404
    assert other.post(f"{page}/milestones", data={"milestone-title": "X"}).status_code == 404
    milestone_id = db.session.scalar(sa.select(Milestone.id))
    for url in (f"{page}/milestones/{milestone_id}/edit", f"{page}/milestones/{milestone_id}/delete",
                f"{page}/milestones/{milestone_id}/done"):
        assert other.post(url).status_code == 404
    assert other.get(f"{page}/milestones/{milestone_id}/edit").status_code == 404


def test_marking_done_on_the_page_with_a_file(party_mou, client, auth):
    milestone = milestones.add(party_mou.buyer, party_mou.agreement.id, details())
    auth.login(party_mou.seller.email)
    url = f"/agreements/{party_mou.agreement.id}/milestones/{milestone.id}/done"
    disguised = {f"done-{milestone.id}-note": "",
                 f"done-{milestone.id}-evidence": (io.BytesIO(b"<html></html>"), "phieu-giao.pdf")}
    response = client.post(url, data=disguised, content_type="multipart/form-data")
    assert response.status_code == 422
    assert f'id="done-{milestone.id}-evidence-error"' in response.get_data(as_text=True)

    good = {f"done-{milestone.id}-note": "Phiếu giao hàng",
            f"done-{milestone.id}-evidence": (io.BytesIO(factories.png()), "anh.png")}
    assert client.post(url, data=good, content_type="multipart/form-data").status_code == 302
    html = client.get(f"/agreements/{party_mou.agreement.id}").get_data(as_text=True)
    assert "Phiếu giao hàng" in html and f"/milestones/{milestone.id}/evidence" in html


def test_a_request_over_5_mb_is_refused_before_the_view(party_mou, client, auth):
    milestone = milestones.add(party_mou.buyer, party_mou.agreement.id, details())
    auth.login(party_mou.seller.email)
    boundary, body = encode_multipart({f"done-{milestone.id}-evidence": FileStorage(
        io.BytesIO(factories.PDF + b"0" * (6 * 1024 * 1024)), filename="big.pdf", content_type="application/pdf")})
    response = client.post(f"/agreements/{party_mou.agreement.id}/milestones/{milestone.id}/done", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    db.session.expire_all()
    assert not db.session.get(Milestone, milestone.id).is_done


def test_evidence_uploads_count_against_the_upload_rate_limits(make_app, database):
    app = make_app(RATELIMIT_ENABLED=True, UPLOAD_RATE_LIMIT_PER_USER="2 per minute")
    with app.app_context():
        seller = factories.user(factories.organisation("cooperative"), email="a@htx.example")
        buyer = factories.organisation("enterprise")
        agreement = factories.signed_mou(buyer, seller.organisation, {factories.product(seller.organisation): 1})
        milestone_id = milestones.add(seller, agreement.id, details()).id
        client = app.test_client()
        client.post("/login", data={"email": seller.email, "password": factories.PASSWORD})
        url = f"/agreements/{agreement.id}/milestones/{milestone_id}/done"
        statuses = [client.post(url, data={f"done-{milestone_id}-evidence": (io.BytesIO(b"nope"), "x.pdf")},
                                content_type="multipart/form-data").status_code for _ in range(3)]
        assert statuses == [422, 422, 429]
        db.session.remove()


def test_the_edit_page_is_for_the_organisation_that_added_the_milestone_and_the_alliance(party_mou, app, client, auth):
    milestone = milestones.add(party_mou.buyer, party_mou.agreement.id, details())
    url = f"/agreements/{party_mou.agreement.id}/milestones/{milestone.id}/edit"
    auth.login(party_mou.seller.email)
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"].endswith("#follow-up")

    buyer = app.test_client()
    buyer.post("/login", data={"email": party_mou.buyer.email, "password": factories.PASSWORD})
    page = buyer.get(url)
    assert page.status_code == 200 and 'value="Giao mẫu đầu tiên"' in page.get_data(as_text=True)
    form = {"milestone-title": "Giao mẫu lần 1", "milestone-responsible": "seller",
            "milestone-due_on": milestone.due_on.isoformat(), "milestone-repeat": "", "milestone-details": ""}
    assert buyer.post(url, data={**form, "milestone-due_on": "31/02"}).status_code == 422
    assert buyer.post(url, data=form).status_code == 302
    db.session.expire_all()
    assert db.session.get(Milestone, milestone.id).title == "Giao mẫu lần 1"
    assert client.post(url, data={**form, "milestone-title": "Của người bán"}).status_code == 302  # refused, flashed
    db.session.expire_all()
    assert db.session.get(Milestone, milestone.id).title == "Giao mẫu lần 1"

    home = client.get("/").get_data(as_text=True)
    assert 'id="home-notices"' not in home


def test_the_demo_data_has_a_followed_up_mou(app):
    from marketplace import demo, demo_agreements
    from marketplace.alliance import followup_log

    demo.seed()
    signed = [a for a in demo_agreements.demo_agreements() if a.state == AgreementState.SIGNED]
    overdue = milestones.overdue_milestones([a.id for a in signed])
    [(agreement_id, count)] = overdue.items()
    assert count == 1
    agreement = next(a for a in signed if a.id == agreement_id)
    assert sum(m.is_done for m in milestones.list_for(agreement.buyer.members[0], agreement)) == 1
    assert "dữ liệu minh họa" in followup_log.entries(agreement.buyer.members[0], agreement)[0].note
