"""minoxidil slots and doses keep their zone

Each regimen version carries the zone its times are in, and each dose the zone it
was applied in, so changing the zone in Settings never rewrites history. Existing
rows take the user's zone at the time of the upgrade: the zone they were scheduled
and shown in until now, so every existing slot and dose keeps its meaning.

Revision ID: c4d1e2f3a5b6
Revises: 5e1a0c3b7d21
Create Date: 2026-12-01 22:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d1e2f3a5b6'
down_revision = '5e1a0c3b7d21'
branch_labels = None
depends_on = None

TABLES = ("minoxidil_regimens", "minoxidil_doses")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))
        op.execute(f"UPDATE {table} SET timezone = (SELECT users.timezone FROM users "
                   f"WHERE users.id = {table}.user_id)")
        op.execute(f"UPDATE {table} SET timezone = 'UTC' WHERE timezone IS NULL")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('timezone', existing_type=sa.String(length=64), nullable=False)


def downgrade():
    # The zone moves back to the account only: slots of a version from another zone are
    # then scheduled in the account's zone again (the schema before this revision could
    # not say otherwise). Doses keep their instants either way.
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('timezone')
