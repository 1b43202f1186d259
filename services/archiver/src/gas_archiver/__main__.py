from gas_archiver.main import main

main()
