package ebs

// ShareInputForTest is shareInput, for the moto test in package ebs_test.
var ShareInputForTest = shareInput
