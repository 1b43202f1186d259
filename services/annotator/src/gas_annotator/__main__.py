from gas_annotator.main import main

main()
