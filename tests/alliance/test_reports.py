"""Issue 11, reports: the report of one conference after the fact (/alliance/conferences/<id>) and the exports of
the reports (CSV and XLSX read back with csv and openpyxl, the PDF summary through pdftotext). Expected figures
are added up here from the test's own orders; MoU statuses follow from how each MoU was set up."""
import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from flask_babel import force_locale

from marketplace.agreements.models import ConferenceEvent
from marketplace.alliance import reports, tracking
from marketplace.alliance.tracking_models import TrackingStatus
from marketplace.catalog.models import Unit
from marketplace.errors import Forbidden, NotFound
from marketplace.extensions import db
from marketplace.orders import services as orders
from marketplace.orders.models import PaymentMode
from marketplace.payments import services as payments
from marketplace.payments.models import PaymentMethod, PaymentSettings
from tests import factories
from tests.support import pdf_pages

HOSTILE = '=HYPERLINK("http://evil.example","Bấm")'


def place(buyer, lines, mou):
    request = factories.order_request(lines, agreement_id=mou.id)
    order, = orders.place_orders(buyer, orders.OrderRequest.from_mapping(request))
    return order


@pytest.fixture
def conference(app):
    """A conference 100 days ago and its three MoUs (100 days into a 201-day term, half elapsed): one on track
    (half its committed value ordered and paid), one behind (a tenth ordered yesterday), one stalled (no order
    at all); plus an MoU of no conference and one of another conference, which the report leaves out."""
    today = tracking.today()
    event = ConferenceEvent(name="Hội nghị kết nối cung cầu nông sản Lạng Sơn", held_on=today - timedelta(days=100),
                            place="Nhà văn hóa tỉnh")
    other = ConferenceEvent(name="Hội chợ khác", held_on=today - timedelta(days=10))
    db.session.add_all([event, other])
    db.session.commit()
    seller = factories.user(factories.organisation("cooperative", legal_name="HTX Thạch đen Tràng Định"),
                            email="thach@htx.example")
    db.session.add(PaymentSettings(organisation_id=seller.organisation_id, mode=PaymentMode.FULL, bank_bin="970436",
                                   account_number="0011001932418", account_name="HTX THACH DEN"))
    db.session.commit()
    product = factories.product(seller.organisation, name="Thạch đen khô", unit=Unit.KG, min_order_qty=1,
                                base_price_vnd=100_000, tiers=[], capacity_qty=None, capacity_period=None,
                                lead_time_days=1)
    start, end = today - timedelta(days=100), today + timedelta(days=100)
    buyers, mous = {}, {}
    for key, name in (("on_track", "Công ty Thực phẩm Sạch Hà Nội"), ("behind", HOSTILE),
                      ("stalled", "Công ty Đặc sản Việt"), ("no_event", "Công ty Ngoài"), ("other", "Công ty Khác")):
        buyers[key] = factories.user(factories.organisation("enterprise", legal_name=name),
                                     email=f"{key.replace('_', '')}@dn.example")
        mous[key] = factories.signed_mou(buyers[key].organisation, seller.organisation, {product: 90_000},
                                         start=start, end=end)  # 1,000 kg at 90,000 ₫ in total
    for key in ("on_track", "behind", "stalled"):
        mous[key].event = event
    mous["other"].event = other
    db.session.commit()
    placed = {"on_track": place(buyers["on_track"], [(product, 500)], mous["on_track"]),
              "behind": place(buyers["behind"], [(product, 100)], mous["behind"])}
    orders.confirm(seller, placed["on_track"].id)
    payment = payments.start_payment(buyers["on_track"], placed["on_track"].id, PaymentMethod.BANK_TRANSFER)
    payments.confirm_transfer(seller, payment.id, payment.amount_vnd)
    place(buyers["no_event"], [(product, 900)], mous["no_event"])
    for order in placed.values():
        db.session.refresh(order)
    return {"event": event, "mous": mous, "orders": placed, "seller": seller}


def test_the_conference_report_counts_statuses_and_values(conference, alliance_user):
    event, mous, placed = conference["event"], conference["mous"], conference["orders"]
    with force_locale("en"):  # the summary's words (the app's default language is Vietnamese)
        report = reports.conference_report(alliance_user, event.id)
        summary = str(report.summary)

    assert report.counts == {TrackingStatus.ON_TRACK: 1, TrackingStatus.BEHIND: 1, TrackingStatus.STALLED: 1}
    day = event.held_on.strftime("%d/%m/%Y")
    assert summary == f"3 MoUs signed at the conference of {day}: 1 on track, 1 behind, 1 stalled"
    ordered = sum(o.total_vnd for o in placed.values())  # 600 kg × 90,000 ₫
    paid = sum(o.paid_vnd for o in placed.values())
    assert ordered == 600 * 90_000 and paid == 500 * 90_000
    assert report.totals == [3 * 1000 * 90_000, ordered, 0, paid]
    per_mou = {row[0]: row for row in report.table("conference_mous").rows}
    assert set(per_mou) == {mous[k].reference for k in ("on_track", "behind", "stalled")}
    assert per_mou[mous["on_track"].reference][3:8] == [TrackingStatus.ON_TRACK, 90_000_000, 45_000_000, 0,
                                                         45_000_000]
    assert per_mou[mous["behind"].reference][2] == HOSTILE and per_mou[mous["behind"].reference][7] == 0
    assert per_mou[mous["stalled"].reference][3] == TrackingStatus.STALLED


def test_only_alliance_staff_read_a_conference_and_an_unknown_one_is_404(conference, alliance_user,
                                                                           cooperative_owner):
    with pytest.raises(Forbidden):
        reports.conference_report(cooperative_owner, conference["event"].id)
    with pytest.raises(NotFound):
        reports.conference_report(alliance_user, conference["event"].id + 1000)


@pytest.mark.parametrize("who, status", [("alliance", 200), ("cooperative", 403), ("enterprise", 403)])
def test_the_conference_pages_are_for_alliance_staff(client, auth, conference, alliance_user, cooperative_owner,
                                                     enterprise_owner, who, status):
    auth.login({"alliance": alliance_user, "cooperative": cooperative_owner, "enterprise": enterprise_owner}[who]
               .email)
    event_id = conference["event"].id
    assert client.get(f"/alliance/conferences/{event_id}").status_code == status
    for fmt in ("csv", "xlsx", "pdf"):
        assert client.get(f"/alliance/conferences/{event_id}/report.{fmt}").status_code == status


def test_the_conference_page_says_it_in_words(client, auth, english, conference, alliance_user):
    auth.login(alliance_user.email)
    html = client.get(f"/alliance/conferences/{conference['event'].id}").get_data(as_text=True)
    assert "3 MoUs signed at the conference of" in html and "1 on track, 1 behind, 1 stalled" in html
    assert "Hội nghị kết nối cung cầu nông sản Lạng Sơn" in html and 'role="img"' in html
    assert "=HYPERLINK(&#34;http://evil.example&#34;" in html or "=HYPERLINK(&quot;" in html


def download(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    return response.data


def test_the_conference_exports_read_back_with_vietnamese_text_and_the_formula_guard(client, auth, conference,
                                                                                     alliance_user):
    auth.login(alliance_user.email)
    event_id, mous = conference["event"].id, conference["mous"]
    data = download(client, f"/alliance/conferences/{event_id}/report.csv")
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM, for Excel
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    by_reference = {row[0]: row for row in rows if row and row[0].startswith("MOU-")}
    assert by_reference[mous["on_track"].reference][1:3] == ["HTX Thạch đen Tràng Định", "Công ty Thực phẩm Sạch Hà Nội"]
    assert by_reference[mous["on_track"].reference][4:8] == ["90000000", "45000000", "0", "45000000"]
    assert by_reference[mous["behind"].reference][2] == "'" + HOSTILE  # guarded: never a formula
    assert all(b'"' + field.encode() + b'"' in data for field in ("HTX Thạch đen Tràng Định",))  # quoted
    assert any("Hội nghị kết nối cung cầu nông sản Lạng Sơn" in cell for row in rows for cell in row)

    workbook = openpyxl.load_workbook(io.BytesIO(download(client, f"/alliance/conferences/{event_id}/report.xlsx")))
    cells = {}
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            if row and isinstance(row[0], str) and row[0].startswith("MOU-"):
                cells[row[0]] = row
    assert cells[mous["on_track"].reference][1] == "HTX Thạch đen Tràng Định"
    assert cells[mous["on_track"].reference][4:8] == (90_000_000, 45_000_000, 0, 45_000_000)
    assert cells[mous["behind"].reference][2] == "'" + HOSTILE
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f"


def test_the_conference_pdf_is_in_vietnamese(client, auth, conference, alliance_user):
    auth.login(alliance_user.email)
    event = conference["event"]
    data = download(client, f"/alliance/conferences/{event.id}/report.pdf")
    text = " ".join(pdf_pages(data))
    assert "Kính gửi: Ủy ban nhân dân tỉnh" in text
    assert f"3 MoU ký tại hội nghị ngày {event.held_on.strftime('%d/%m/%Y')}: 1 đúng tiến độ, 1 chậm tiến độ, " \
           "1 đình trệ" in text
    assert "Hội nghị kết nối cung cầu nông sản Lạng Sơn" in text and "HTX Thạch đen Tràng Định" in text
    assert "45.000.000" in text and "Đình trệ" in text


def test_the_dashboard_exports(client, auth, conference, alliance_user):
    auth.login(alliance_user.email)
    rows = list(csv.reader(io.StringIO(download(client, "/alliance/dashboard.csv").decode("utf-8-sig"))))
    event_row = next(row for row in rows if row and row[0].startswith("Hội nghị kết nối cung cầu nông sản Lạng Sơn"))
    assert event_row[1:] == ["3", str(3 * 90_000_000), str(600 * 90_000), "0", str(500 * 90_000)]
    workbook = openpyxl.load_workbook(io.BytesIO(download(client, "/alliance/dashboard.xlsx")))
    assert len(workbook.worksheets) == 1 + len(reports.dashboard(alliance_user).tables)
    found = [row for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)
             if row and row[0] == event_row[0]]
    assert found == [(event_row[0], 3, 270_000_000, 54_000_000, 0, 45_000_000)]
    text = " ".join(pdf_pages(download(client, "/alliance/dashboard.pdf")))
    assert "BÁO CÁO TỔNG HỢP" in text and "MoU đã ký theo hội nghị" in text and "Lạng Sơn" in text
    assert "Ngoài hội nghị 1 90.000.000 81.000.000" in text  # the MoU of no conference, in Vietnamese
