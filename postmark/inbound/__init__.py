"""Inbound mail: the kept record, routes, mailboxes, processing off the request, signed reply
addresses and notices to the sender."""
