"""What a comparison leaves behind: the summary table and files, and the figures."""
