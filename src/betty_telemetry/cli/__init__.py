"""The command line: argparse entry point, read commands and terminal rendering."""
