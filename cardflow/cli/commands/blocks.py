"""``cardflow blocks``: create or update the Prefect blocks the settings describe (names only printed)."""

from __future__ import annotations

import argparse

from cardflow.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "blocks",
        help="save AwsCredentials/S3Bucket, SnowflakeCredentials/SnowflakeConnector, SlackWebhook blocks from settings",
    )
    p.add_argument("--dry-run", action="store_true", help="list the blocks that would be saved, save nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cardflow.backends.blocks import planned_blocks, save_blocks

    settings = get_settings()
    blocks = planned_blocks(settings) if args.dry_run else save_blocks(settings)
    if not blocks:
        print("no block settings present (S3_BUCKET, SNOWFLAKE_ACCOUNT, SLACK_WEBHOOK_URL): nothing to save")
        return 0
    verb = "would save" if args.dry_run else "saved"
    for block in blocks:
        print(f"{verb} {block.block_type}/{block.name}")
    hints = sorted({f"{b.setting}={b.name}" for b in blocks if b.setting})
    print("point workers at them with: " + " ".join(hints))
    return 0
