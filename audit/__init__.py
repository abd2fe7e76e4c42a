"""Audits at scale: a corpus of encounters decided on Dask workers (see docs/audit.md).

``run_audit(AuditJob)`` reads the corpus in partitions (``corpus``), decides each partition on a
worker whose policies are loaded once per process (``worker``), writes the results in input order
(``output``) and the summary beside them (``summary``); ``report`` renders it as HTML and ``history``
derives patients' prior visits from the corpus. The engine is reached only through the facade
``supportable.engine``, the documents through ``supportable.server.wire``.
"""
from .run import AuditError, AuditJob, run_audit, summary_path_for
from .worker import PolicyMismatch, Settings

__all__ = ["AuditError", "AuditJob", "PolicyMismatch", "Settings", "run_audit", "summary_path_for"]
