"""The only home of SQL: engine, local PostGIS cluster, ORM models, migrations, queries."""
