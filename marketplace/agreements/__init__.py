"""Memoranda of understanding (thỏa thuận ghi nhớ hợp tác): drafting, negotiation in immutable
revisions, the PDF of the agreed terms, its signatures and their verification, and the evidence log.

- models.py    Agreement, AgreementRevision (immutable, hashed), lines, signatures, events
- services.py  the use cases; every state change records an event
- pdf.py       renders a revision (and the completion certificate) with fpdf2
- signing.py   the only importer of pyHanko: signing certificates, signing, verification
"""
