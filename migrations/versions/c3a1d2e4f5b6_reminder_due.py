"""each user's next reminder, stored and indexed

Revision ID: c3a1d2e4f5b6
Revises: eaf86490040e
Create Date: 2026-12-01 22:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a1d2e4f5b6'
down_revision = 'eaf86490040e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reminder_due',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('slot_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_reminder_due_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_reminder_due'))
    )
    with op.batch_alter_table('reminder_due', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_due_due_at'), ['due_at'], unique=False)
    # Existing users get their row from the clock process at start (`flask reminders run`
    # refreshes every subscribed user without one), not from this migration.


def downgrade():
    with op.batch_alter_table('reminder_due', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_due_due_at'))
    op.drop_table('reminder_due')
