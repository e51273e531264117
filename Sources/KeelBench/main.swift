KeelBench.main()
