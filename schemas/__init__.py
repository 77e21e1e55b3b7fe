"""pandera contracts: what a source must give, and exactly what Five9 takes."""
