from pitcall.cli import main

main()
