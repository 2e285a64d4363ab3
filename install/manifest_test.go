package main

func kubeletShim(spec string) int { return 1 }
