"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 21:58:40.262040
"""
from alembic import op
import sqlalchemy as sa
import store.tables


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('created_at', store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_keys_prefix'))
    )
    op.create_table('embedding_cache',
    sa.Column('embedder_id', sa.String(length=64), nullable=False),
    sa.Column('text_sha256', sa.String(length=64), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('embedder_id', 'text_sha256', name=op.f('pk_embedding_cache'))
    )
    op.create_table('models',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('handle', sa.String(length=104), nullable=False),
    sa.Column('namespace', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('scoring_method', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('max_depth', sa.Integer(), nullable=False),
    sa.Column('zero_data_retention', sa.Boolean(), nullable=False),
    sa.Column('additional_terms', sa.Text(), nullable=True),
    sa.Column('upstream_sources', sa.JSON(), nullable=True),
    sa.Column('readme_markdown', sa.Text(), nullable=True),
    sa.Column('version_retention_policy', sa.JSON(), nullable=True),
    sa.Column('active_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.Column('last_operation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_models')),
    sa.UniqueConstraint('handle', name=op.f('uq_models_handle'))
    )
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_models_namespace'), ['namespace'], unique=False)
        batch_op.create_index(batch_op.f('ix_models_state'), ['state'], unique=False)

    op.create_table('namespaces',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('created_at', store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_namespaces'))
    )
    op.create_table('key_namespaces',
    sa.Column('key_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('namespace', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], name=op.f('fk_key_namespaces_key_id_api_keys'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['namespace'], ['namespaces.name'], name=op.f('fk_key_namespaces_namespace_namespaces')),
    sa.PrimaryKeyConstraint('key_id', 'namespace', name=op.f('pk_key_namespaces'))
    )
    op.create_table('operations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('params', sa.JSON(), nullable=True),
    sa.Column('progress', sa.JSON(), nullable=True),
    sa.Column('error', sa.JSON(), nullable=True),
    sa.Column('version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('started_at', store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_operations_model_id_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operations')),
    sa.UniqueConstraint('run_id', name=op.f('uq_operations_run_id'))
    )
    with op.batch_alter_table('operations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operations_fingerprint'), ['fingerprint'], unique=False)
        batch_op.create_index(batch_op.f('ix_operations_model_id'), ['model_id'], unique=False)

    op.create_table('traits',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('positive_label', sa.String(length=100), nullable=False),
    sa.Column('negative_label', sa.String(length=100), nullable=False),
    sa.Column('aggregation', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('discrimination', sa.Float(), nullable=True),
    sa.Column('explained_variance', sa.Float(), nullable=True),
    sa.Column('anchor_sample_ids', sa.JSON(), nullable=True),
    sa.Column('frozen_direction', sa.JSON(), nullable=True),
    sa.Column('created_at', store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_traits_model_id_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_traits')),
    sa.UniqueConstraint('model_id', 'key', name='uq_traits_model_key')
    )
    with op.batch_alter_table('traits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_traits_model_id'), ['model_id'], unique=False)

    op.create_table('versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version_no', sa.Integer(), nullable=False),
    sa.Column('triggered_by', sa.String(length=20), nullable=False),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('param_hash', sa.String(length=64), nullable=False),
    sa.Column('sample_count', sa.Integer(), nullable=False),
    sa.Column('max_sample_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('created_at', store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_versions_model_id_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_versions')),
    sa.UniqueConstraint('model_id', 'version_no', name='uq_versions_model_no'),
    sa.UniqueConstraint('run_id', name=op.f('uq_versions_run_id'))
    )
    with op.batch_alter_table('versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_versions_model_id'), ['model_id'], unique=False)

    op.create_table('samples',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('trait_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('quality', sa.Float(), nullable=False),
    sa.Column('source_url', sa.Text(), nullable=True),
    sa.Column('content_sha256', sa.String(length=64), nullable=True),
    sa.Column('provenance', sa.String(length=20), nullable=False),
    sa.Column('created_at', store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_samples_model_id_models'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['trait_id'], ['traits.id'], name=op.f('fk_samples_trait_id_traits'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_samples'))
    )
    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_samples_model_id'), ['model_id'], unique=False)
        batch_op.create_index('ix_samples_model_trait', ['model_id', 'trait_id'], unique=False)

    op.create_table('version_tags',
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.Column('version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_version_tags_model_id_models'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['versions.id'], name=op.f('fk_version_tags_version_id_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('model_id', 'tag', name=op.f('pk_version_tags'))
    )
    with op.batch_alter_table('version_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_version_tags_version_id'), ['version_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('version_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_version_tags_version_id'))

    op.drop_table('version_tags')
    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.drop_index('ix_samples_model_trait')
        batch_op.drop_index(batch_op.f('ix_samples_model_id'))

    op.drop_table('samples')
    with op.batch_alter_table('versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_versions_model_id'))

    op.drop_table('versions')
    with op.batch_alter_table('traits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_traits_model_id'))

    op.drop_table('traits')
    with op.batch_alter_table('operations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operations_model_id'))
        batch_op.drop_index(batch_op.f('ix_operations_fingerprint'))

    op.drop_table('operations')
    op.drop_table('key_namespaces')
    op.drop_table('namespaces')
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_models_state'))
        batch_op.drop_index(batch_op.f('ix_models_namespace'))

    op.drop_table('models')
    op.drop_table('embedding_cache')
    op.drop_table('api_keys')
