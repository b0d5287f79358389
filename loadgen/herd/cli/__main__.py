from herd.cli.main import main

main()
