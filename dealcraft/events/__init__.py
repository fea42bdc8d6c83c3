"""Events: the transactional outbox, its dispatcher, and named events.

Record writes put an event in ``dc_outbox`` inside their own transaction. The dispatcher
reads undelivered rows, hands each to the subscribers in a transaction that also marks the
row delivered, and runs the subscribers' after-commit callbacks once that commits. Delivery
is at least once: a dispatcher killed after its subscribers ran but before it committed
rolls both back, and the next pass delivers the row again.
"""

from dealcraft.events.dispatch import Dispatcher, Subscriber
from dealcraft.events.outbox import OutboxEvent, publish

__all__ = ["Dispatcher", "OutboxEvent", "Subscriber", "publish"]
