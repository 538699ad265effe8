"""staged fits: fitted snapshots waiting to be published as versions

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import store.tables


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staged_fits',
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('param_hash', sa.String(length=64), nullable=False),
    sa.Column('sample_count', sa.Integer(), nullable=False),
    sa.Column('max_sample_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('created_at', store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_staged_fits_model_id_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_staged_fits'))
    )
    with op.batch_alter_table('staged_fits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staged_fits_model_id'), ['model_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('staged_fits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staged_fits_model_id'))
    op.drop_table('staged_fits')
