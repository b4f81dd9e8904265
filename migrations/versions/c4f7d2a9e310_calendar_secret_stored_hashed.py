"""calendar secret stored hashed: existing feed addresses keep working (their secrets are hashed here)

Revision ID: c4f7d2a9e310
Revises: 9d3b6e1f4a72
Create Date: 2026-12-01 22:50:00.000000

"""
import hashlib

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4f7d2a9e310'
down_revision = '9d3b6e1f4a72'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calendar_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_hash', sa.String(length=64), nullable=True))
    conn = op.get_bind()
    for row_id, token in conn.execute(sa.text("SELECT id, token FROM calendar_tokens")).all():
        conn.execute(sa.text("UPDATE calendar_tokens SET token_hash = :h WHERE id = :id"),
                     {"h": hashlib.sha256(token.encode("utf-8", "replace")).hexdigest(), "id": row_id})
    with op.batch_alter_table('calendar_tokens', schema=None) as batch_op:
        batch_op.alter_column('token_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint('uq_calendar_tokens_token', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_calendar_tokens_token_hash'), ['token_hash'])
        batch_op.drop_column('token')


def downgrade():
    # The plain secrets are gone: feed addresses made before the downgrade stop working.
    with op.batch_alter_table('calendar_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token', sa.String(length=64), nullable=True))
    op.execute("UPDATE calendar_tokens SET token = token_hash")
    with op.batch_alter_table('calendar_tokens', schema=None) as batch_op:
        batch_op.alter_column('token', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint('uq_calendar_tokens_token_hash', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_calendar_tokens_token'), ['token'])
        batch_op.drop_column('token_hash')
