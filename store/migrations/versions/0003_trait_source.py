"""traits.source_trait: which authored trait a discovered axis was fitted along

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('traits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_trait', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('traits', schema=None) as batch_op:
        batch_op.drop_column('source_trait')
