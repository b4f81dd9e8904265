"""photo alignment: each photo's similarity to its area's reference, and the chosen reference

Revision ID: 5c1e0a7d9b42
Revises: c4e1a7d2b9f3
Create Date: 2026-12-01 22:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c1e0a7d9b42'
down_revision = 'c4e1a7d2b9f3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_reference', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('align_ref_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('align_scale', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('align_rotation', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('align_tx', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('align_ty', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('align_inliers', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('align_ratio', sa.Float(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_photos_align_ref_id_photos'), 'photos', ['align_ref_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_photos_align_ref_id_photos'), type_='foreignkey')
        batch_op.drop_column('align_ratio')
        batch_op.drop_column('align_inliers')
        batch_op.drop_column('align_ty')
        batch_op.drop_column('align_tx')
        batch_op.drop_column('align_rotation')
        batch_op.drop_column('align_scale')
        batch_op.drop_column('align_ref_id')
        batch_op.drop_column('is_reference')
