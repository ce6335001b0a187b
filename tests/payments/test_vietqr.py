"""VietQR payloads: the published sample, the CRC, static and dynamic codes, messages, refusals, the SVG."""
import binascii
import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from marketplace.payments import vietqr
from tests.support import IN_CI

# The sample VietQR publishes (VietinBank, 120,000 đồng, "ung ho lu lut"), CRC included.
SAMPLE = ("00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA5303704540612000058"
          "02VN62170813ung ho lu lut6304C15C")


def fields(text):
    """EMVCo ID-length-value fields of `text` as {id: value}, checking that they tile it exactly."""
    result, position = {}, 0
    while position < len(text):
        tag, length = text[position:position + 2], int(text[position + 2:position + 4])
        assert tag not in result, f"field {tag} twice"
        result[tag] = text[position + 4:position + 4 + length]
        assert len(result[tag]) == length, f"field {tag} is cut"
        position += 4 + length
    return result


def test_the_published_sample_is_reproduced_exactly():
    assert vietqr.payload("970415", "0011001932418", 120000, "ung ho lu lut") == SAMPLE


@pytest.mark.parametrize(("data", "crc"), [("123456789", 0x29B1), ("", 0xFFFF), ("A", 0xB915),
                                           (SAMPLE[:-4], 0xC15C)])
def test_crc16_ccitt_known_vectors(data, crc):
    assert vietqr.crc16(data) == crc
    assert vietqr.crc16(data.encode()) == crc


def test_crc16_agrees_with_binascii_crc_hqx():
    # binascii.crc_hqx is the same CRC (polynomial 0x1021, MSB first) with a given start value.
    for text in ["0002010102113", "x" * 300, SAMPLE, "".join(map(chr, range(32, 127)))]:
        assert vietqr.crc16(text) == binascii.crc_hqx(text.encode(), 0xFFFF)


def test_a_code_without_amount_is_static_and_one_with_an_amount_dynamic():
    static = fields(vietqr.payload("970436", "1234567890", None, "DH 42"))
    dynamic = fields(vietqr.payload("970436", "1234567890", 1_500_000, "DH 42"))
    assert static["01"] == "11" and "54" not in static
    assert dynamic["01"] == "12" and dynamic["54"] == "1500000"  # whole đồng, never × 100
    for code in static, dynamic:
        assert list(code) == sorted(code)  # fields in ascending order, 63 last
        assert code["00"] == "01" and code["53"] == "704" and code["58"] == "VN"
        assert fields(code["38"]) == {"00": "A000000727", "01": "00069704360110" + "1234567890",
                                      "02": "QRIBFTTA"}
        assert fields(fields(code["38"])["01"]) == {"00": "970436", "01": "1234567890"}
        assert fields(code["62"]) == {"08": "DH 42"}


@pytest.mark.parametrize("amount", [None, 1, 120000, 9_999_999_999_999])
def test_every_payload_ends_with_its_own_crc(amount):
    text = vietqr.payload("970418", "A1", amount, "Thanh toán")
    assert re.fullmatch(r"[ -~]+6304[0-9A-F]{4}", text)
    assert text[-4:] == f"{binascii.crc_hqx(text[:-4].encode(), 0xFFFF):04X}"


@pytest.mark.parametrize(("message", "expected"), [
    ("Thanh toán đơn hàng", "Thanh toan don hang"),
    ("ĐƠN HÀNG Đặc sản", "DON HANG Dac san"),  # đ and Đ fold to d and D; case is kept
    ("Thanh toa\u0301n", "Thanh toan"),  # decomposed accents too
    ("#DH-2026/0042, HTX Đồng Bành!", "DH 2026 0042 HTX Dong Ban"),  # other characters become one space; 25 max
    ("  nhiều   khoảng   trắng  ", "nhieu khoang trang"),
    ("Mật ong rừng Bắc Sơn loại một", "Mat ong rung Bac Son loai"),  # cut at 25, no trailing space
    ("１２３ＡＢＣ", "123ABC"),  # fullwidth forms fold to ASCII
    ("蜂蜜 mật ong", "mat ong"),
])
def test_messages_are_folded_to_ascii_and_cut_at_25_characters(message, expected):
    assert vietqr.transfer_message(message) == expected
    text = vietqr.payload("970405", "1234", None, message)
    assert fields(fields(text)["62"]) == {"08": expected}
    assert text.isascii()


@pytest.mark.parametrize("message", ["", "   ", "#!/—", "蜂蜜"])
def test_a_message_with_nothing_left_leaves_the_field_out(message):
    assert "62" not in fields(vietqr.payload("970405", "1234", 5000, message))


@pytest.mark.parametrize(("arguments", "complaint"), [
    (("97041", "123", None, ""), "BIN must be 6 digits"),
    (("9704150", "123", None, ""), "BIN must be 6 digits"),
    (("97041a", "123", None, ""), "BIN must be 6 digits"),
    (("٩٧٠٤١٥", "123", None, ""), "BIN must be 6 digits"),  # Arabic-Indic digits are \d but not ASCII
    ((970415, "123", None, ""), "BIN must be 6 digits"),
    (("970415", "", None, ""), "account must be 1 to 19"),
    (("970415", "1" * 20, None, ""), "account must be 1 to 19"),
    (("970415", "0011 0019", None, ""), "account must be 1 to 19"),
    (("970415", "0011-0019", None, ""), "account must be 1 to 19"),
    (("970415", "Đ123", None, ""), "account must be 1 to 19"),
    (("970415", "123\n", None, ""), "account must be 1 to 19"),
    (("970415", "123", 0, ""), "positive"),
    (("970415", "123", -5, ""), "positive"),
    (("970415", "123", 10**13, ""), "at most 13 digits"),
    (("970415", "123", 1500.0, ""), "whole number"),
    (("970415", "123", "1500", ""), "whole number"),
    (("970415", "123", True, ""), "whole number"),
    (("970415", "123", None, None), "message must be text"),
])
def test_bad_input_is_refused_with_a_clear_message(arguments, complaint):
    with pytest.raises(ValueError, match=complaint):
        vietqr.payload(*arguments)


def test_the_longest_account_and_amount_fit():
    code = fields(vietqr.payload("970436", "9" * 19, 10**13 - 1, "x"))
    assert fields(fields(code["38"])["01"])["01"] == "9" * 19 and code["54"] == "9" * 13


def test_bank_names():
    assert vietqr.bank_name("970436") == "Vietcombank"
    assert vietqr.bank_name("970415") == "VietinBank"
    assert vietqr.bank_name("970418") == "BIDV"
    assert vietqr.bank_name("970405") == "Agribank"
    assert vietqr.bank_name("970446") == "Co-opBank"
    assert vietqr.bank_name("123456") is None
    assert all(re.fullmatch(r"9704\d\d", bin_) for bin_ in vietqr.BANKS)
    assert len(set(vietqr.BANKS.values())) == len(vietqr.BANKS)


def test_the_svg_is_well_formed_and_labelled():
    svg = vietqr.qr_svg(SAMPLE, title="Mã VietQR <chuyển khoản>")
    root = ET.fromstring(svg)
    assert root.tag == "svg" and root.get("role") == "img"
    assert root.find("title").text == "Mã VietQR <chuyển khoản>"
    assert not svg.startswith("<?xml")


def svg_to_image(svg):
    """Draw segno's SVG (one path of 1-unit horizontal strokes, `M x y` / `m dx dy` / `h n`) on a white image."""
    root = ET.fromstring(svg)
    width, height = int(root.get("width")), int(root.get("height"))
    [path] = root.findall("path")
    scale = int(re.fullmatch(r"scale\((\d+)\)", path.get("transform")).group(1))
    image = Image.new("L", (width, height), 255)
    x = y = 0.0
    for command, numbers in re.findall(r"([MmHh])([-\d. ]+)", path.get("d")):
        values = [float(n) for n in numbers.split()]
        if command == "M":
            x, y = values
        elif command == "m":
            x, y = x + values[0], y + values[1]
        else:
            end = values[0] if command == "H" else x + values[0]
            row = int(y - 0.5)  # a stroke of width 1 centred on y covers the row y - 0.5 .. y + 0.5
            image.paste(0, (int(x) * scale, row * scale, int(end) * scale, (row + 1) * scale))
            x = end
    return image


def test_the_svg_decodes_to_the_payload():
    try:
        import zxingcpp
    except ImportError:  # the test extra installs zxing-cpp
        if IN_CI:
            pytest.fail("CI needs zxing-cpp (pip install -e '.[test]') to decode QR codes")
        pytest.skip("zxing-cpp is not installed")
    for text in [SAMPLE, vietqr.payload("970446", "HTX0042", 1_250_000, "Đơn hàng số 42 Đồng Bành")]:
        results = zxingcpp.read_barcodes(svg_to_image(vietqr.qr_svg(text)))
        assert [(r.format, r.text) for r in results] == [(zxingcpp.BarcodeFormat.QRCode, text)]
