"""Bulk orders: the cart, checkout into one order per cooperative, capacity, order states and events."""
