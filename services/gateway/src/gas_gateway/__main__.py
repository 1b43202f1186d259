from gas_gateway.main import main

main()
