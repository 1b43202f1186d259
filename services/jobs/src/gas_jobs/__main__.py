from gas_jobs.main import main

main()
