"""Subcommands of the `nianbao` CLI: one module each, every module exposing `register(subparsers)`."""
