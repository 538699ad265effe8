"""score jobs: jobs, the namespaces that may see them, their items and written-chunk markers

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import store.tables


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('score_jobs',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('model_id', BIG_ID, nullable=False),
    sa.Column('handle', sa.String(length=104), nullable=False),
    sa.Column('version_id', BIG_ID, nullable=False),
    sa.Column('version_no', sa.Integer(), nullable=False),
    sa.Column('traits', sa.JSON(), nullable=True),
    sa.Column('max_depth', sa.Integer(), nullable=False),
    sa.Column('zero_data_retention', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('scored', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.Column('error', sa.JSON(), nullable=True),
    sa.Column('created_at', store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_score_jobs_model_id_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_jobs')),
    sa.UniqueConstraint('job_id', name=op.f('uq_score_jobs_job_id'))
    )
    with op.batch_alter_table('score_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_score_jobs_model_newest', ['model_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_score_jobs_finished_at'), ['finished_at'], unique=False)

    op.create_table('score_job_namespaces',
    sa.Column('job_pk', BIG_ID, nullable=False),
    sa.Column('namespace', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['job_pk'], ['score_jobs.id'], name=op.f('fk_score_job_namespaces_job_pk_score_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_pk', 'namespace', name=op.f('pk_score_job_namespaces'))
    )
    op.create_table('score_job_items',
    sa.Column('job_pk', BIG_ID, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Text(), nullable=False),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('error', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['job_pk'], ['score_jobs.id'], name=op.f('fk_score_job_items_job_pk_score_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_pk', 'seq', name=op.f('pk_score_job_items'))
    )
    op.create_table('score_job_chunks',
    sa.Column('job_pk', BIG_ID, nullable=False),
    sa.Column('chunk_no', sa.Integer(), nullable=False),
    sa.Column('scored', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_pk'], ['score_jobs.id'], name=op.f('fk_score_job_chunks_job_pk_score_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_pk', 'chunk_no', name=op.f('pk_score_job_chunks'))
    )


def downgrade() -> None:
    op.drop_table('score_job_chunks')
    op.drop_table('score_job_items')
    op.drop_table('score_job_namespaces')
    with op.batch_alter_table('score_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_score_jobs_finished_at'))
        batch_op.drop_index('ix_score_jobs_model_newest')
    op.drop_table('score_jobs')
