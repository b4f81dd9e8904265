"""sessions keep the zone they were logged in; a health profile per user

Revision ID: c4e1a7d2b9f3
Revises: 2192584e4b14
Create Date: 2026-12-01 22:40:00

Existing sessions take the account's zone at the time of the upgrade: the zone
every wait was shown in until now, so every wait keeps its meaning.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e1a7d2b9f3'
down_revision = '2192584e4b14'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'health_profiles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('isotretinoin_last_dose', sa.Date(), nullable=True),
        sa.Column('blood_thinners', sa.Boolean(), nullable=False),
        sa.Column('keloid_tendency', sa.Boolean(), nullable=False),
        sa.Column('scalp_psoriasis_eczema', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_health_profiles_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_health_profiles')),
        sa.UniqueConstraint('user_id', name=op.f('uq_health_profiles_user_id')),
    )
    with op.batch_alter_table('needling_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))
    op.execute("UPDATE needling_sessions SET timezone = "
               "(SELECT users.timezone FROM users WHERE users.id = needling_sessions.user_id)")
    op.execute("UPDATE needling_sessions SET timezone = 'UTC' WHERE timezone IS NULL")
    with op.batch_alter_table('needling_sessions', schema=None) as batch_op:
        batch_op.alter_column('timezone', existing_type=sa.String(length=64), nullable=False)


def downgrade():
    with op.batch_alter_table('needling_sessions', schema=None) as batch_op:
        batch_op.drop_column('timezone')
    op.drop_table('health_profiles')
