from gas_notifier.main import main

main()
