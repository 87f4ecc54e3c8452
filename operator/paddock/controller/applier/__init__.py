"""Make the cluster match a plan. `Applier` queues the writes; one module per kind of write."""

from paddock.controller.applier.applier import Applier
from paddock.controller.applier.clients import Clients

__all__ = ["Applier", "Clients"]
