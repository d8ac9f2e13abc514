"""Capture runs of other trainers into UNIPO run stores: TRL's GRPOTrainer (trl.capture) and verl's
DataProto batches (verl.record_from_dataproto). Each submodule imports its framework lazily."""
