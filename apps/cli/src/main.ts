console.log("corral");
