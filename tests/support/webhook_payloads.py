"""Real-shaped webhook payloads, one function per kind, each returning a fresh dict.

Shaped after Postmark's documented examples and the quirks seen in real traffic (7 fractional
digits, offsets, ``ServerId``, empty ``Tag``); the tests change what they need.
"""

from __future__ import annotations

import base64
from typing import Any

MESSAGE_ID = "883953f4-6105-42a2-a16a-77a8eac79483"


def bounce(**changes: Any) -> dict[str, Any]:
    return {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "Invitation",
        "MessageID": MESSAGE_ID,
        "Metadata": {"a_key": "a_value", "b_key": "b_value"},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, "
        "mailbox not found).",
        "Details": "Test bounce details",
        "Email": "john@example.com",
        "From": "sender@example.com",
        "BouncedAt": "2026-11-27T10:11:12.1234567-04:00",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Test subject",
        "Content": "<Full dump of bounce>",
        **changes,
    }


def spam_complaint(**changes: Any) -> dict[str, Any]:
    # Seen in real traffic: TypeCode 512 (SpamNotification's) on a complaint.
    complaint = bounce(
        RecordType="SpamComplaint",
        ID=42,
        Type="SpamComplaint",
        TypeCode=512,
        Name="Spam complaint",
        Tag="",
        Inactive=True,
        CanActivate=False,
        BouncedAt="2026-11-27T14:00:00Z",
    )
    return {**complaint, **changes}


def delivery(**changes: Any) -> dict[str, Any]:
    return {
        "RecordType": "Delivery",
        "ServerId": 23,  # older payloads spell it so
        "MessageStream": "outbound",
        "MessageID": MESSAGE_ID,
        "Recipient": "john@example.com",
        "Tag": "welcome-email",
        "DeliveredAt": "2026-11-27T10:11:13.1234567Z",
        "Details": "Test delivery webhook details",
        "Metadata": {"example": "value"},
        **changes,
    }


def _tracking(record_type: str) -> dict[str, Any]:
    return {
        "RecordType": record_type,
        "MessageStream": "outbound",
        "Metadata": {"example": "value"},
        "Recipient": "john@example.com",
        "MessageID": MESSAGE_ID,
        "ReceivedAt": "2026-11-27T11:00:00.1234567+02:00",
        "Tag": "welcome-email",
        "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
        "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10"},
        "Platform": "WebMail",
        "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5)",
        "Geo": {
            "CountryISOCode": "RS",
            "Country": "Serbia",
            "RegionISOCode": "VO",
            "Region": "Autonomna Pokrajina Vojvodina",
            "City": "Novi Sad",
            "Zip": "21000",
            "Coords": "45.2517,19.8369",
            "IP": "188.2.95.4",
        },
    }


def open_(**changes: Any) -> dict[str, Any]:
    return {**_tracking("Open"), "FirstOpen": True, "ReadSeconds": 5, **changes}


def click(**changes: Any) -> dict[str, Any]:
    return {
        **_tracking("Click"),
        "ClickLocation": "HTML",
        "OriginalLink": "https://example.com",
        "ReceivedAt": "2026-11-27T12:00:00Z",
        **changes,
    }


def subscription_change(**changes: Any) -> dict[str, Any]:
    return {
        "RecordType": "SubscriptionChange",
        "MessageID": MESSAGE_ID,
        "ServerID": 23,
        "MessageStream": "outbound",
        "ChangedAt": "2026-11-27T15:00:00.1234567Z",
        "Recipient": "Jane@Example.com",
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "my-tag",
        "Metadata": {"example": "value"},
        **changes,
    }


def inbound(**changes: Any) -> dict[str, Any]:
    return {
        "FromName": "Postmarkapp Support",
        "MessageStream": "inbound",
        "From": "support@postmarkapp.com",
        "FromFull": {
            "Email": "support@postmarkapp.com",
            "Name": "Postmarkapp Support",
            "MailboxHash": "",
        },
        "To": '"Firstname Lastname" <yourhash+SampleHash@inbound.postmarkapp.com>',
        "ToFull": [
            {
                "Email": "yourhash+SampleHash@inbound.postmarkapp.com",
                "Name": "Firstname Lastname",
                "MailboxHash": "SampleHash",
            }
        ],
        "Cc": '"First Cc" <firstcc@postmarkapp.com>, secondCc@postmarkapp.com',
        "CcFull": [
            {"Email": "firstcc@postmarkapp.com", "Name": "First Cc", "MailboxHash": ""},
            {"Email": "secondCc@postmarkapp.com", "Name": "", "MailboxHash": ""},
        ],
        "Bcc": "",
        "BccFull": [],
        "OriginalRecipient": "yourhash+SampleHash@inbound.postmarkapp.com",
        "Subject": "Test subject",
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "ReplyTo": "replyto@postmarkapp.com",
        "MailboxHash": "SampleHash",
        "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
        "TextBody": "This is a test text body.",
        "HtmlBody": "<html><body><p>This is a test html body.</p></body></html>",
        "StrippedTextReply": "This is the reply text",
        "Tag": "TestTag",
        "Headers": [
            {"Name": "X-Header-Test", "Value": ""},
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "Message-ID", "Value": "<CAM@mail.gmail.com>"},
        ],
        "Attachments": [
            {
                "Name": "test.txt",
                "Content": base64.b64encode(
                    b"This is attachment contents, base-64 encoded."
                ).decode(),
                "ContentType": "text/plain",
                "ContentLength": 45,
            }
        ],
        **changes,
    }
