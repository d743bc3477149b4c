"""Alembic environment: runs on the connection that store.migrate hands over."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

from store.migrate import include_object
from store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=include_object,
    process_revision_directives=alembic_helpers.writer,
    render_item=alembic_helpers.render_item,
    compare_type=True,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
