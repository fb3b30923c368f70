from flowcentre.cli import main

main()
