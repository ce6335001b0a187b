"""Inquiries (hỏi hàng): a verified buyer asks a cooperative about a product (price for a volume, samples,
delivery) in a thread; each message is emailed to the other side; either side can turn the thread into an MoU
draft prefilled with the product and the figures discussed.

- models.py    Inquiry, InquiryMessage, InquiryEvent (the thread's history)
- services.py  the use cases: open, reply, read the inbox and a thread
- views.py     the inbox, the question form and the thread ("inquiries" blueprint)
"""
