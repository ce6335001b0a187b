"""VietQR: the QR code a Vietnamese banking app scans to prefill a NAPAS 247 transfer.

The payload is EMVCo merchant-presented QR text: fields written as ID (2 digits), length (2 digits), value.
Hand-written because none of the PyPI packages was both correct and safe (docs/architecture.md):

    00 "01"                        payload format
    01 "11" static | "12" dynamic  "12" when the amount is fixed
    38 {00 "A000000727"            NAPAS's application id
        01 {00 bank BIN, 01 account}
        02 "QRIBFTTA"}             transfer to an account
    53 "704"                       VND
    54 amount                      whole đồng, only in a dynamic code
    58 "VN"
    62 {08 message}                ASCII letters, digits and spaces, at most 25 characters
    63 CRC16-CCITT                 over everything before it, "6304" included; 4 upper-case hex digits
"""
import re

import segno

from marketplace.text import FOLD_TABLE, nfc

NAPAS_AID = "A000000727"
SERVICE_TO_ACCOUNT = "QRIBFTTA"
CURRENCY_VND = "704"
MESSAGE_MAX_LENGTH = 25
AMOUNT_MAX_DIGITS = 13

# NAPAS 247 bank identification numbers (BINs) of the banks people most often name, as VietQR lists them.
BANKS = {
    "970400": "Saigonbank",
    "970403": "Sacombank",
    "970405": "Agribank",
    "970407": "Techcombank",
    "970409": "Bac A Bank",
    "970412": "PVcomBank",
    "970415": "VietinBank",
    "970416": "ACB",
    "970418": "BIDV",
    "970419": "NCB",
    "970422": "MB",
    "970423": "TPBank",
    "970425": "ABBANK",
    "970426": "MSB",
    "970427": "VietABank",
    "970428": "Nam A Bank",
    "970431": "Eximbank",
    "970432": "VPBank",
    "970436": "Vietcombank",
    "970437": "HDBank",
    "970438": "BaoViet Bank",
    "970440": "SeABank",
    "970441": "VIB",
    "970443": "SHB",
    "970446": "Co-opBank",  # Ngân hàng Hợp tác xã Việt Nam, the cooperatives' bank
    "970448": "OCB",
    "970449": "LPBank",
    "970452": "KienlongBank",
}

_BIN = re.compile(r"[0-9]{6}")
_ACCOUNT = re.compile(r"[A-Za-z0-9]{1,19}")
_NOT_IN_MESSAGE = re.compile(r"[^A-Za-z0-9 ]+")


def bank_name(bank_bin):
    """The short name of the bank with this BIN ("970436" → "Vietcombank"), or None if it is not in BANKS."""
    return BANKS.get(bank_bin)


def crc16(data):
    """CRC16-CCITT (polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR) of bytes or ASCII text."""
    if isinstance(data, str):
        data = data.encode("ascii")
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def transfer_message(message):
    """The message as a VietQR payload carries it: accents folded ("Đơn hàng" → "Don hang"), case kept, every
    run of other characters made one space, at most 25 characters."""
    folded = "".join(
        character.translate(FOLD_TABLE) if character.islower() else character.lower().translate(FOLD_TABLE).upper()
        for character in nfc(message)
    )
    text = " ".join(_NOT_IN_MESSAGE.sub(" ", folded).split())
    return text[:MESSAGE_MAX_LENGTH].rstrip()


def payload(bank_bin, account, amount_vnd, message):
    """The VietQR text for a transfer to `account` at the bank `bank_bin`.

    amount_vnd None makes a static code (the payer types the amount), a whole number of đồng a dynamic one.
    The message is folded by transfer_message(); an empty one leaves the field out.
    Raises ValueError if the BIN is not 6 digits, the account not 1 to 19 letters or digits, or the amount
    not a positive whole number of at most 13 digits.
    """
    if not isinstance(bank_bin, str) or not _BIN.fullmatch(bank_bin):
        raise ValueError(f"bank BIN must be 6 digits, not {bank_bin!r}")
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        raise ValueError(f"account must be 1 to 19 letters or digits, not {account!r}")
    if amount_vnd is not None:
        if isinstance(amount_vnd, bool) or not isinstance(amount_vnd, int):
            raise ValueError(f"amount must be a whole number of đồng, not {amount_vnd!r}")
        if not 0 < amount_vnd < 10**AMOUNT_MAX_DIGITS:
            raise ValueError(f"amount must be positive and at most {AMOUNT_MAX_DIGITS} digits, not {amount_vnd}")
    if not isinstance(message, str):
        raise ValueError(f"message must be text, not {message!r}")
    beneficiary = _field("00", bank_bin) + _field("01", account)
    merchant = _field("00", NAPAS_AID) + _field("01", beneficiary) + _field("02", SERVICE_TO_ACCOUNT)
    text = (
        _field("00", "01")
        + _field("01", "11" if amount_vnd is None else "12")
        + _field("38", merchant)
        + _field("53", CURRENCY_VND)
        + (_field("54", str(amount_vnd)) if amount_vnd is not None else "")
        + _field("58", "VN")
    )
    message = transfer_message(message)
    if message:
        text += _field("62", _field("08", message))
    text += "6304"
    return text + f"{crc16(text):04X}"


def qr_svg(text, title="VietQR", scale=4):
    """The QR code of `text` as an inline SVG element (no XML declaration) with role="img" and a <title>."""
    # segno escapes the title; it writes the element as "<svg width=...": the role goes first.
    svg = segno.make(text, error="m", micro=False).svg_inline(scale=scale, border=4, title=title)
    return svg.replace("<svg ", '<svg role="img" ', 1)


def _field(tag, value):
    if len(value) > 99:
        raise ValueError(f"field {tag} is longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"
