"""Django messages to Postmark's sending API, in the order a send runs:

- ``payload``: one message as the JSON object Postmark takes (``addresses`` formats each address);
- ``recipients``: the per-recipient split of one message (``merge_data``, the Bulk API);
- ``state``: what the path keeps about each message (``SendState``), instead of attributes;
- ``batches``: a send's messages as API calls, built and encoded before any request;
- ``send_loop``: the calls made, each message's result, ``post_send``;
- ``message_log``: the ``Message`` log's rows for what ``post_send`` reports.

Both backends and the queue's worker run this path.
"""
