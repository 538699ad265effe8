"""evaluations: labelled items scored against one or two versions, their namespaces and labels

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa
import store.tables


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('evaluations',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('evaluation_id', sa.String(length=40), nullable=False),
    sa.Column('model_id', BIG_ID, nullable=False),
    sa.Column('handle', sa.String(length=104), nullable=False),
    sa.Column('version_nos', sa.JSON(), nullable=False),
    sa.Column('version_ids', sa.JSON(), nullable=False),
    sa.Column('job_ids', sa.JSON(), nullable=False),
    sa.Column('traits', sa.JSON(), nullable=False),
    sa.Column('numeric_traits', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('error', sa.JSON(), nullable=True),
    sa.Column('created_at', store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_evaluations_model_id_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations')),
    sa.UniqueConstraint('evaluation_id', name=op.f('uq_evaluations_evaluation_id'))
    )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.create_index('ix_evaluations_model_newest', ['model_id', 'id'], unique=False)

    op.create_table('evaluation_namespaces',
    sa.Column('evaluation_pk', BIG_ID, nullable=False),
    sa.Column('namespace', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['evaluation_pk'], ['evaluations.id'], name=op.f('fk_evaluation_namespaces_evaluation_pk_evaluations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('evaluation_pk', 'namespace', name=op.f('pk_evaluation_namespaces'))
    )
    op.create_table('evaluation_labels',
    sa.Column('evaluation_pk', BIG_ID, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['evaluation_pk'], ['evaluations.id'], name=op.f('fk_evaluation_labels_evaluation_pk_evaluations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('evaluation_pk', 'seq', name=op.f('pk_evaluation_labels'))
    )


def downgrade() -> None:
    op.drop_table('evaluation_labels')
    op.drop_table('evaluation_namespaces')
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_index('ix_evaluations_model_newest')
    op.drop_table('evaluations')
