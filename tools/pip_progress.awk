# A few lines of progress from pip's output (make setup): how many packages are collected, when the
# long install step starts, how many were installed, and pip's errors.
/^Collecting / {
    collected++
    if (collected % 25 == 1) { printf "setup: collecting packages (%d so far)\n", collected; fflush() }
}
/^Installing collected packages/ {
    printf "setup: installing %d packages (the longest step: up to a minute or two)\n", NF - 3; fflush()
}
/^Successfully installed/ { printf "setup: %d packages installed\n", NF - 2; fflush() }
/^ERROR/ { print "setup: " $0; fflush() }
