"""Batch conversion of bag archives (`convert`): discovery, worker processes or Ray tasks, up-to-date
stamps, and registration of the recordings into a Rerun catalog (`register`)."""
