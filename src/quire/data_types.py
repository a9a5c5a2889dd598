"""Media types, where W&B code looks for them: ``wandb.data_types.PartitionedTable``."""

from __future__ import annotations

from .sdk.partitioned_table import PartitionedTable
from .sdk.table import Table

__all__ = ["PartitionedTable", "Table"]
