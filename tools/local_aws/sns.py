"""Amazon SNS e-mail delivery, which moto accepts and drops; patches moto's SNS subscriptions on import.

AWS delivers to an `email` subscription the `Message` as text, with the `Subject` as the e-mail's subject; when
the publish has `MessageStructure=json`, the message is the structure's `email` member, else its `default`
member (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html, `MessageStructure`). An `email-json`
subscription gets the `email-json` member, else `default`. A subscription's filter policy applies first, as for
every protocol. moto 5 applies all of this to SQS, HTTP and Lambda subscribers, and delivers nothing for e-mail.
Here each e-mail delivery goes to an inbox per account, region and address, which a test reads:

``POST /_failover/sns/inbox`` ``{"account", "region", "address"}`` -> ``{"messages": [{"topic_arn", "protocol",
"subject", "body"}, ...]}`` in delivery order, and empties that inbox.

Subscriptions are used as moto lists them for the topic; real e-mail subscriptions deliver only once confirmed
(a person clicks the link), which a test that reads the inbox stands for.
"""

from __future__ import annotations

import threading

from moto.sns import models as sns_models

from .control import field, where

_EMAIL = ("email", "email-json")
_lock = threading.Lock()
_inboxes: dict[tuple[str, str, str], list[dict]] = {}
_orig_publish = sns_models.Subscription.publish


def _publish(self, message, message_id, subject=None, message_attributes=None, group_id=None,
             deduplication_id=None, message_structure=None):
    if self.protocol not in _EMAIL:
        return _orig_publish(self, message, message_id, subject=subject, message_attributes=message_attributes,
                             group_id=group_id, deduplication_id=deduplication_id,
                             message_structure=message_structure)
    matcher = self._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return None
    body = self._parse_message_structure(message, self.protocol) if message_structure == "json" else message
    region = self.topic.arn.split(":")[3]
    with _lock:
        _inboxes.setdefault((self.account_id, region, self.endpoint), []).append(
            {"topic_arn": self.topic.arn, "protocol": self.protocol, "subject": subject, "body": body})
    return None


sns_models.Subscription.publish = _publish


def inbox(body: dict) -> dict:
    """``POST /_failover/sns/inbox``: what was delivered to an e-mail address, oldest first; empties it."""
    account, region = where(body)
    address = field(body, "address")
    with _lock:
        messages = _inboxes.pop((account, region, address), [])
    return {"messages": messages}
